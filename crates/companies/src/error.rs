//! Everything that can go wrong with companies.

use crm_core::actor::Forbidden;
use crm_core::{CompanyId, DomainError, ErrorKind, FieldError, UserId};
use crm_custom_fields::CustomFieldError;
use crm_db::DbError;

/// Failure of a company operation.
#[derive(Debug, thiserror::Error)]
pub enum CompanyError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such company, or not visible to the actor.
    #[error("company {0} not found")]
    NotFound(CompanyId),
    /// Another company (not in the trash) has this name, compared case-insensitively.
    #[error("a company with this name already exists")]
    DuplicateName,
    /// `ownerId` names no active user.
    #[error("user {0} does not exist or is deactivated")]
    UnknownUser(UserId),
    /// `If-Match` named another version.
    #[error(transparent)]
    VersionMismatch(#[from] crm_core::VersionMismatch),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Only admins delete records for good.
    #[error("only admins may delete records permanently")]
    AdminOnly,
    /// A custom field failure other than invalid values (those are `Invalid`): a unique
    /// value taken by another record.
    #[error(transparent)]
    CustomFields(CustomFieldError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<CustomFieldError> for CompanyError {
    fn from(e: CustomFieldError) -> Self {
        match e {
            CustomFieldError::Invalid(errors) => CompanyError::Invalid(errors),
            other => CompanyError::CustomFields(other),
        }
    }
}

impl From<diesel::result::Error> for CompanyError {
    fn from(e: diesel::result::Error) -> Self {
        if crm_db::constraint::is_unique_violation(&e, "companies_name_key") {
            CompanyError::DuplicateName
        } else if let Some(dup) = crm_custom_fields::unique_violation(&e) {
            CompanyError::CustomFields(dup)
        } else {
            CompanyError::Db(DbError::Query(e))
        }
    }
}

impl DomainError for CompanyError {
    fn kind(&self) -> ErrorKind {
        match self {
            CompanyError::Invalid(_) => ErrorKind::Invalid,
            CompanyError::NotFound(_) => ErrorKind::NotFound,
            CompanyError::DuplicateName => ErrorKind::Conflict,
            CompanyError::UnknownUser(_) => ErrorKind::Unprocessable,
            CompanyError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            CompanyError::Forbidden(_) | CompanyError::AdminOnly => ErrorKind::Forbidden,
            CompanyError::CustomFields(e) => e.kind(),
            CompanyError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            CompanyError::Invalid(_) => "validation_failed",
            CompanyError::NotFound(_) => "not_found",
            CompanyError::DuplicateName => "duplicate_company_name",
            CompanyError::UnknownUser(_) => "unknown_user",
            CompanyError::VersionMismatch(_) => "version_mismatch",
            CompanyError::Forbidden(_) | CompanyError::AdminOnly => "forbidden",
            CompanyError::CustomFields(e) => e.code(),
            CompanyError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            CompanyError::Invalid(errors) => errors.clone(),
            CompanyError::DuplicateName => {
                vec![FieldError::new(
                    "name",
                    "is already used by another company",
                )]
            }
            CompanyError::UnknownUser(_) => {
                vec![FieldError::new("ownerId", "is not an active user")]
            }
            CompanyError::CustomFields(e) => e.field_errors(),
            _ => Vec::new(),
        }
    }
}
