//! Everything that can go wrong with users.

use crm_core::actor::Forbidden;
use crm_core::{DomainError, ErrorKind, FieldError, UserId};
use crm_db::DbError;

/// Failure of a user operation.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such user.
    #[error("user {0} not found")]
    NotFound(UserId),
    /// Another user has this e-mail (compared case-insensitively).
    #[error("e-mail already in use")]
    DuplicateEmail,
    /// The change would leave no active admin.
    #[error("the last active admin cannot be demoted, deactivated or deleted")]
    LastAdmin,
    /// `If-Match` named another version.
    #[error(transparent)]
    VersionMismatch(#[from] crm_core::VersionMismatch),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Every password-hashing thread is busy and the queue is full.
    #[error("too many password checks in progress; retry in {retry_after} s")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
}

impl From<diesel::result::Error> for UserError {
    fn from(e: diesel::result::Error) -> Self {
        UserError::Db(DbError::Query(e))
    }
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        UserError::Invalid(vec![e])
    }
}

impl DomainError for UserError {
    fn kind(&self) -> ErrorKind {
        match self {
            UserError::Invalid(_) => ErrorKind::Invalid,
            UserError::NotFound(_) => ErrorKind::NotFound,
            UserError::DuplicateEmail | UserError::LastAdmin => ErrorKind::Conflict,
            UserError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            UserError::Forbidden(_) => ErrorKind::Forbidden,
            UserError::Db(e) => e.kind(),
            UserError::Hashing(_) => ErrorKind::Internal,
            UserError::Busy { .. } => ErrorKind::Unavailable,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            UserError::Invalid(_) => "validation_failed",
            UserError::NotFound(_) => "not_found",
            UserError::DuplicateEmail => "duplicate_email",
            UserError::LastAdmin => "last_admin",
            UserError::VersionMismatch(_) => "version_mismatch",
            UserError::Forbidden(_) => "forbidden",
            UserError::Db(e) => e.code(),
            UserError::Hashing(_) => "internal_error",
            UserError::Busy { .. } => "server_busy",
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            UserError::Invalid(errors) => errors.clone(),
            UserError::DuplicateEmail => vec![FieldError::new("email", "is already in use")],
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            UserError::Busy { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    fn detail_is_public(&self) -> bool {
        match self {
            UserError::Busy { .. } => true,
            _ => !matches!(self.kind(), ErrorKind::Internal | ErrorKind::Unavailable),
        }
    }
}
