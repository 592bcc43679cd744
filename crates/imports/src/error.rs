//! Everything that can go wrong with imports.

use crm_core::actor::Forbidden;
use crm_core::{DomainError, ErrorKind, FieldError};
use crm_db::DbError;
use uuid::Uuid;

/// Failure of an import operation.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The request is invalid (mapping, upsert key, entity type).
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such import (or not the caller's).
    #[error("import {0} not found")]
    NotFound(Uuid),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Db(DbError::Query(e))
    }
}

impl DomainError for ImportError {
    fn kind(&self) -> ErrorKind {
        match self {
            ImportError::Invalid(_) => ErrorKind::Invalid,
            ImportError::NotFound(_) => ErrorKind::NotFound,
            ImportError::Forbidden(_) => ErrorKind::Forbidden,
            ImportError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ImportError::Invalid(_) => "validation_failed",
            ImportError::NotFound(_) => "not_found",
            ImportError::Forbidden(_) => "forbidden",
            ImportError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ImportError::Invalid(errors) => errors.clone(),
            _ => Vec::new(),
        }
    }
}
