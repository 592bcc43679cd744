//! Everything that can go wrong with contacts.

use crm_companies::CompanyError;
use crm_core::actor::Forbidden;
use crm_core::{CompanyId, ContactId, UserId};
use crm_core::{DomainError, ErrorKind, FieldError};
use crm_custom_fields::CustomFieldError;
use crm_db::DbError;

/// Failure of a contact operation.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such contact, or not visible to the actor.
    #[error("contact {0} not found")]
    NotFound(ContactId),
    /// Another contact (not in the trash) has this e-mail, compared case-insensitively.
    #[error("another contact has this e-mail")]
    DuplicateEmail,
    /// `ownerId` names no active user.
    #[error("user {0} does not exist or is deactivated")]
    UnknownUser(UserId),
    /// `companyId` names no company, or one in the trash.
    #[error("company {0} does not exist or is in the trash")]
    UnknownCompany(CompanyId),
    /// `If-Match` named another version.
    #[error(transparent)]
    VersionMismatch(#[from] crm_core::VersionMismatch),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Only admins delete records for good.
    #[error("only admins may delete records permanently")]
    AdminOnly,
    /// A failure about the company the request is about (e.g. not visible).
    #[error(transparent)]
    Company(#[from] CompanyError),
    /// A custom field failure other than invalid values (those are `Invalid`): a unique
    /// value taken by another record.
    #[error(transparent)]
    CustomFields(CustomFieldError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<CustomFieldError> for ContactError {
    fn from(e: CustomFieldError) -> Self {
        match e {
            CustomFieldError::Invalid(errors) => ContactError::Invalid(errors),
            other => ContactError::CustomFields(other),
        }
    }
}

impl From<diesel::result::Error> for ContactError {
    fn from(e: diesel::result::Error) -> Self {
        if crm_db::constraint::is_unique_violation(&e, "contacts_email_key") {
            ContactError::DuplicateEmail
        } else if let Some(dup) = crm_custom_fields::unique_violation(&e) {
            ContactError::CustomFields(dup)
        } else {
            ContactError::Db(DbError::Query(e))
        }
    }
}

impl DomainError for ContactError {
    fn kind(&self) -> ErrorKind {
        match self {
            ContactError::Invalid(_) => ErrorKind::Invalid,
            ContactError::NotFound(_) => ErrorKind::NotFound,
            ContactError::DuplicateEmail => ErrorKind::Conflict,
            ContactError::UnknownUser(_) | ContactError::UnknownCompany(_) => {
                ErrorKind::Unprocessable
            }
            ContactError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            ContactError::Forbidden(_) | ContactError::AdminOnly => ErrorKind::Forbidden,
            ContactError::Company(e) => e.kind(),
            ContactError::CustomFields(e) => e.kind(),
            ContactError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ContactError::Invalid(_) => "validation_failed",
            ContactError::NotFound(_) => "not_found",
            ContactError::DuplicateEmail => "duplicate_email",
            ContactError::UnknownUser(_) => "unknown_user",
            ContactError::UnknownCompany(_) => "unknown_company",
            ContactError::VersionMismatch(_) => "version_mismatch",
            ContactError::Forbidden(_) | ContactError::AdminOnly => "forbidden",
            ContactError::Company(e) => e.code(),
            ContactError::CustomFields(e) => e.code(),
            ContactError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ContactError::Invalid(errors) => errors.clone(),
            ContactError::DuplicateEmail => {
                vec![FieldError::new(
                    "email",
                    "is already used by another contact",
                )]
            }
            ContactError::UnknownUser(_) => {
                vec![FieldError::new("ownerId", "is not an active user")]
            }
            ContactError::UnknownCompany(_) => {
                vec![FieldError::new("companyId", "is not an existing company")]
            }
            ContactError::Company(e) => e.field_errors(),
            ContactError::CustomFields(e) => e.field_errors(),
            _ => Vec::new(),
        }
    }
}
