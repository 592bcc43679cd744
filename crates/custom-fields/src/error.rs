//! Everything that can go wrong with custom fields: their definitions and their values.

use crm_core::actor::Forbidden;
use crm_core::{CustomFieldId, DomainError, ErrorKind, FieldError};
use crm_db::DbError;

use crate::model::{CustomFieldEntity, FieldType};

/// Failure of a custom field operation, or of the custom field part of a record write.
#[derive(Debug, thiserror::Error)]
pub enum CustomFieldError {
    /// Input failed validation (definition fields, or `customFields.<key>` of a record).
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such definition.
    #[error("custom field {0} not found")]
    NotFound(CustomFieldId),
    /// The record type already has a field with this key.
    #[error("{entity} already have a custom field `{key}`")]
    DuplicateKey {
        /// Record type.
        entity: CustomFieldEntity,
        /// The key.
        key: String,
    },
    /// Another record (not in the trash) holds this value of a unique field.
    #[error("another record holds this value of the unique custom field `{key}`")]
    DuplicateValue {
        /// Record type.
        entity: CustomFieldEntity,
        /// Key of the field.
        key: String,
    },
    /// Records hold options that the change removes.
    #[error("{count} record(s) hold options of `{key}` that the change removes; change them first")]
    OptionInUse {
        /// Key of the field.
        key: String,
        /// Records in the way.
        count: usize,
    },
    /// Records hold values that do not convert to the new type or options.
    #[error("{count} record(s) hold values of `{key}` that do not convert to {to}")]
    ValuesDoNotConvert {
        /// Key of the field.
        key: String,
        /// The new type.
        to: FieldType,
        /// Records in the way.
        count: usize,
    },
    /// Making the field unique (or converting it) would give several records the same value.
    #[error(
        "{count} record(s) share a value of `{key}` with another record; the field cannot be unique"
    )]
    ValuesNotUnique {
        /// Key of the field.
        key: String,
        /// Records in the way.
        count: usize,
    },
    /// Type, options and uniqueness of an inactive field cannot change (its values are put
    /// away); activate it first.
    #[error(
        "custom field `{0}` is inactive; activate it before changing its type, options or uniqueness"
    )]
    Inactive(String),
    /// The record type has the most fields allowed.
    #[error("{entity} have the most custom fields allowed ({max})")]
    TooMany {
        /// Record type.
        entity: CustomFieldEntity,
        /// The limit.
        max: usize,
    },
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

impl CustomFieldError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CustomFieldError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<diesel::result::Error> for CustomFieldError {
    fn from(e: diesel::result::Error) -> Self {
        if let Some(dup) = crate::values::unique_violation(&e) {
            dup
        } else {
            CustomFieldError::Db(DbError::Query(e))
        }
    }
}

impl DomainError for CustomFieldError {
    fn kind(&self) -> ErrorKind {
        match self {
            CustomFieldError::Invalid(_) => ErrorKind::Invalid,
            CustomFieldError::NotFound(_) => ErrorKind::NotFound,
            CustomFieldError::DuplicateKey { .. }
            | CustomFieldError::DuplicateValue { .. }
            | CustomFieldError::OptionInUse { .. }
            | CustomFieldError::ValuesDoNotConvert { .. }
            | CustomFieldError::ValuesNotUnique { .. }
            | CustomFieldError::Inactive(_)
            | CustomFieldError::TooMany { .. } => ErrorKind::Conflict,
            CustomFieldError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            CustomFieldError::Forbidden(_) => ErrorKind::Forbidden,
            CustomFieldError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            CustomFieldError::Invalid(_) => "validation_failed",
            CustomFieldError::NotFound(_) => "not_found",
            CustomFieldError::DuplicateKey { .. } => "duplicate_custom_field_key",
            CustomFieldError::DuplicateValue { .. } => "duplicate_custom_field_value",
            CustomFieldError::OptionInUse { .. } => "option_in_use",
            CustomFieldError::ValuesDoNotConvert { .. } => "values_do_not_convert",
            CustomFieldError::ValuesNotUnique { .. } => "values_not_unique",
            CustomFieldError::Inactive(_) => "custom_field_inactive",
            CustomFieldError::TooMany { .. } => "too_many_custom_fields",
            CustomFieldError::VersionMismatch(_) => "version_mismatch",
            CustomFieldError::Forbidden(_) => "forbidden",
            CustomFieldError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            CustomFieldError::Invalid(errors) => errors.clone(),
            CustomFieldError::DuplicateKey { .. } => {
                vec![FieldError::new("key", self.to_string())]
            }
            CustomFieldError::DuplicateValue { entity, key } => vec![FieldError::new(
                format!("customFields.{key}"),
                format!(
                    "is unique and already used by another {}",
                    entity.as_str().replace('_', " ")
                ),
            )],
            CustomFieldError::OptionInUse { .. } => {
                vec![FieldError::new("options", self.to_string())]
            }
            CustomFieldError::ValuesDoNotConvert { .. } => {
                vec![FieldError::new("type", self.to_string())]
            }
            CustomFieldError::ValuesNotUnique { .. } => {
                vec![FieldError::new("isUnique", self.to_string())]
            }
            _ => Vec::new(),
        }
    }
}
