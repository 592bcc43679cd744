//! Everything that can go wrong with tasks.

use crm_core::actor::Forbidden;
use crm_core::{ContactId, DealId, DomainError, ErrorKind, FieldError, TaskId, UserId};
use crm_custom_fields::CustomFieldError;
use crm_db::DbError;

/// Failure of a task operation.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such task, or not visible to the actor, or in the trash.
    #[error("task {0} not found")]
    NotFound(TaskId),
    /// `dealId` names no deal, or one in the trash.
    #[error("deal {0} does not exist")]
    UnknownDeal(DealId),
    /// `contactId` names no contact, or one in the trash.
    #[error("contact {0} does not exist")]
    UnknownContact(ContactId),
    /// `assignedToId` names no active user.
    #[error("user {0} does not exist or is deactivated")]
    UnknownUser(UserId),
    /// `If-Match` named another version.
    #[error(transparent)]
    VersionMismatch(#[from] crm_core::VersionMismatch),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Permanent deletion is for admins only.
    #[error("only admins may delete tasks permanently")]
    NotAdmin,
    /// A custom field failure other than invalid values (those are `Invalid`): a unique
    /// value taken by another record.
    #[error(transparent)]
    CustomFields(CustomFieldError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<CustomFieldError> for TaskError {
    fn from(e: CustomFieldError) -> Self {
        match e {
            CustomFieldError::Invalid(errors) => TaskError::Invalid(errors),
            other => TaskError::CustomFields(other),
        }
    }
}

impl From<diesel::result::Error> for TaskError {
    fn from(e: diesel::result::Error) -> Self {
        match crm_custom_fields::unique_violation(&e) {
            Some(dup) => TaskError::CustomFields(dup),
            None => TaskError::Db(DbError::Query(e)),
        }
    }
}

impl From<FieldError> for TaskError {
    fn from(e: FieldError) -> Self {
        TaskError::Invalid(vec![e])
    }
}

impl DomainError for TaskError {
    fn kind(&self) -> ErrorKind {
        match self {
            TaskError::Invalid(_) => ErrorKind::Invalid,
            TaskError::NotFound(_) => ErrorKind::NotFound,
            TaskError::UnknownDeal(_)
            | TaskError::UnknownContact(_)
            | TaskError::UnknownUser(_) => ErrorKind::Unprocessable,
            TaskError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            TaskError::Forbidden(_) | TaskError::NotAdmin => ErrorKind::Forbidden,
            TaskError::CustomFields(e) => e.kind(),
            TaskError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            TaskError::Invalid(_) => "validation_failed",
            TaskError::NotFound(_) => "not_found",
            TaskError::UnknownDeal(_) => "unknown_deal",
            TaskError::UnknownContact(_) => "unknown_contact",
            TaskError::UnknownUser(_) => "unknown_user",
            TaskError::VersionMismatch(_) => "version_mismatch",
            TaskError::Forbidden(_) | TaskError::NotAdmin => "forbidden",
            TaskError::CustomFields(e) => e.code(),
            TaskError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            TaskError::Invalid(errors) => errors.clone(),
            TaskError::UnknownDeal(_) => vec![FieldError::new("dealId", "no such deal")],
            TaskError::UnknownContact(_) => vec![FieldError::new("contactId", "no such contact")],
            TaskError::UnknownUser(_) => {
                vec![FieldError::new("assignedToId", "no such active user")]
            }
            TaskError::CustomFields(e) => e.field_errors(),
            _ => Vec::new(),
        }
    }
}
