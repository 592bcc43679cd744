//! Everything that can go wrong with files.

use crm_core::actor::Forbidden;
use crm_core::{DomainError, ErrorKind, FieldError, FileId};
use crm_db::DbError;
use uuid::Uuid;

/// Failure of a file operation.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such file.
    #[error("file {0} not found")]
    NotFound(FileId),
    /// The record to attach to does not exist, is in the trash or is not visible.
    #[error("the {0} {1} does not exist")]
    UnknownEntity(&'static str, Uuid),
    /// The upload is larger than the limit.
    #[error("the file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    /// The storage could not be configured.
    #[error("invalid file storage configuration: {0}")]
    Config(String),
    /// The storage failed.
    #[error("file storage failed: {0}")]
    Storage(#[from] object_store::Error),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for FileError {
    fn from(e: diesel::result::Error) -> Self {
        FileError::Db(DbError::Query(e))
    }
}

impl DomainError for FileError {
    fn kind(&self) -> ErrorKind {
        match self {
            FileError::Invalid(_) => ErrorKind::Invalid,
            FileError::NotFound(_) => ErrorKind::NotFound,
            FileError::UnknownEntity(..) => ErrorKind::Unprocessable,
            FileError::TooLarge(_) => ErrorKind::TooLarge,
            FileError::Forbidden(_) => ErrorKind::Forbidden,
            FileError::Config(_) => ErrorKind::Internal,
            FileError::Storage(object_store::Error::NotFound { .. }) => ErrorKind::NotFound,
            FileError::Storage(_) => ErrorKind::Unavailable,
            FileError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            FileError::Invalid(_) => "validation_failed",
            FileError::NotFound(_) => "not_found",
            FileError::UnknownEntity(..) => "unknown_entity",
            FileError::TooLarge(_) => "payload_too_large",
            FileError::Forbidden(_) => "forbidden",
            FileError::Config(_) => "internal_error",
            FileError::Storage(object_store::Error::NotFound { .. }) => "not_found",
            FileError::Storage(_) => "storage_unavailable",
            FileError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            FileError::Invalid(errors) => errors.clone(),
            FileError::UnknownEntity(..) => vec![FieldError::new("entityId", "no such record")],
            FileError::TooLarge(_) => vec![FieldError::new("file", self.to_string())],
            _ => Vec::new(),
        }
    }
}
