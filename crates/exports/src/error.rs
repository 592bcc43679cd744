//! Everything that can go wrong with an export.

use crm_core::{DomainError, ErrorKind, FieldError};

/// Failure of an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The contacts could not be read (permission, database).
    #[error(transparent)]
    Contacts(#[from] crm_contacts::ContactError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crm_db::DbError),
    /// The spreadsheet could not be written.
    #[error("the spreadsheet could not be written: {0}")]
    Xlsx(String),
    /// The working file failed.
    #[error("the export's working file failed: {0}")]
    Io(#[from] std::io::Error),
}

impl DomainError for ExportError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExportError::Contacts(e) => e.kind(),
            ExportError::Db(e) => e.kind(),
            ExportError::Xlsx(_) | ExportError::Io(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ExportError::Contacts(e) => e.code(),
            ExportError::Db(e) => e.code(),
            ExportError::Xlsx(_) | ExportError::Io(_) => "internal_error",
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ExportError::Contacts(e) => e.field_errors(),
            _ => Vec::new(),
        }
    }
}
