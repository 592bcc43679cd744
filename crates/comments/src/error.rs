//! Everything that can go wrong with comments.

use crm_core::actor::Forbidden;
use crm_core::{CommentId, DomainError, ErrorKind, FieldError};
use crm_db::DbError;
use uuid::Uuid;

/// Failure of a comment operation.
#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such comment.
    #[error("comment {0} not found")]
    NotFound(CommentId),
    /// The record commented on does not exist or is in the trash.
    #[error("the {0} {1} does not exist")]
    UnknownEntity(&'static str, Uuid),
    /// Only the author may change a comment.
    #[error("only the author may change this comment")]
    NotAuthor,
    /// `If-Match` named another version.
    #[error(transparent)]
    VersionMismatch(#[from] crm_core::VersionMismatch),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for CommentError {
    fn from(e: diesel::result::Error) -> Self {
        CommentError::Db(DbError::Query(e))
    }
}

impl DomainError for CommentError {
    fn kind(&self) -> ErrorKind {
        match self {
            CommentError::Invalid(_) => ErrorKind::Invalid,
            CommentError::NotFound(_) => ErrorKind::NotFound,
            CommentError::UnknownEntity(..) => ErrorKind::Unprocessable,
            CommentError::NotAuthor | CommentError::Forbidden(_) => ErrorKind::Forbidden,
            CommentError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            CommentError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            CommentError::Invalid(_) => "validation_failed",
            CommentError::NotFound(_) => "not_found",
            CommentError::UnknownEntity(..) => "unknown_entity",
            CommentError::NotAuthor => "not_author",
            CommentError::Forbidden(_) => "forbidden",
            CommentError::VersionMismatch(_) => "version_mismatch",
            CommentError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            CommentError::Invalid(errors) => errors.clone(),
            CommentError::UnknownEntity(..) => {
                vec![FieldError::new("entityId", "no such record")]
            }
            _ => Vec::new(),
        }
    }
}
