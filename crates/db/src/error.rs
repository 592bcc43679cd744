//! Errors of the storage layer itself: connecting, pooling, migrating.

use crm_core::{DomainError, ErrorKind};

/// A failure to reach or prepare the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had from the pool (database down or pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// The pool could not be built from the given settings.
    #[error("invalid database configuration: {0}")]
    Config(String),
}

impl DomainError for DbError {
    fn kind(&self) -> ErrorKind {
        match self {
            DbError::Unavailable(_) => ErrorKind::Unavailable,
            DbError::Query(e) if crate::constraint::is_connection_error(e) => {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Unavailable => "database_unavailable",
            _ => "internal_error",
        }
    }
}
