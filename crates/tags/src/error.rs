//! Everything that can go wrong with tags.

use crm_core::actor::Forbidden;
use crm_core::{DomainError, ErrorKind, FieldError, TagId};
use crm_db::DbError;

/// Failure of a tag operation.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such tag.
    #[error("tag {0} not found")]
    NotFound(TagId),
    /// The merge target does not exist.
    #[error("tag {0} does not exist")]
    UnknownTag(TagId),
    /// Another tag has this name (compared case-insensitively); merge instead.
    #[error("another tag has this name")]
    DuplicateTag,
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

impl From<diesel::result::Error> for TagError {
    fn from(e: diesel::result::Error) -> Self {
        if crm_db::constraint::is_unique_violation(&e, "tags_name_key") {
            TagError::DuplicateTag
        } else {
            TagError::Db(DbError::Query(e))
        }
    }
}

impl From<FieldError> for TagError {
    fn from(e: FieldError) -> Self {
        TagError::Invalid(vec![e])
    }
}

impl DomainError for TagError {
    fn kind(&self) -> ErrorKind {
        match self {
            TagError::Invalid(_) => ErrorKind::Invalid,
            TagError::NotFound(_) => ErrorKind::NotFound,
            TagError::UnknownTag(_) => ErrorKind::Unprocessable,
            TagError::DuplicateTag => ErrorKind::Conflict,
            TagError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            TagError::Forbidden(_) => ErrorKind::Forbidden,
            TagError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            TagError::Invalid(_) => "validation_failed",
            TagError::NotFound(_) => "not_found",
            TagError::UnknownTag(_) => "unknown_tag",
            TagError::DuplicateTag => "duplicate_tag",
            TagError::VersionMismatch(_) => "version_mismatch",
            TagError::Forbidden(_) => "forbidden",
            TagError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            TagError::Invalid(errors) => errors.clone(),
            TagError::UnknownTag(_) => vec![FieldError::new("intoId", "no such tag")],
            TagError::DuplicateTag => vec![FieldError::new("name", "is already a tag")],
            _ => Vec::new(),
        }
    }
}
