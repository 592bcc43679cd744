//! Everything that can go wrong with an export.

use crm_core::actor::Forbidden;
use crm_core::{DomainError, ErrorKind, FieldError};

/// Failure of an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The actor lacks `data.export`.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The contacts could not be read (permission, database).
    #[error(transparent)]
    Contacts(#[from] crm_contacts::ContactError),
    /// The companies could not be read.
    #[error(transparent)]
    Companies(#[from] crm_companies::CompanyError),
    /// The deals could not be read.
    #[error(transparent)]
    Deals(#[from] crm_deals::DealError),
    /// The tasks could not be read.
    #[error(transparent)]
    Tasks(#[from] crm_tasks::TaskError),
    /// The custom fields could not be read.
    #[error(transparent)]
    CustomFields(#[from] crm_custom_fields::CustomFieldError),
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

impl From<diesel::result::Error> for ExportError {
    fn from(e: diesel::result::Error) -> Self {
        ExportError::Db(e.into())
    }
}

impl ExportError {
    fn inner(&self) -> Option<&dyn DomainError> {
        match self {
            ExportError::Forbidden(e) => Some(e),
            ExportError::Contacts(e) => Some(e),
            ExportError::Companies(e) => Some(e),
            ExportError::Deals(e) => Some(e),
            ExportError::Tasks(e) => Some(e),
            ExportError::CustomFields(e) => Some(e),
            ExportError::Db(e) => Some(e),
            ExportError::Xlsx(_) | ExportError::Io(_) => None,
        }
    }
}

impl DomainError for ExportError {
    fn kind(&self) -> ErrorKind {
        self.inner().map_or(ErrorKind::Internal, |e| e.kind())
    }

    fn code(&self) -> &'static str {
        self.inner().map_or("internal_error", |e| e.code())
    }

    fn field_errors(&self) -> Vec<FieldError> {
        self.inner().map(|e| e.field_errors()).unwrap_or_default()
    }
}
