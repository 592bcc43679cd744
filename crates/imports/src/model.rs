//! The import record as stored and as the API shows it.

use chrono::{DateTime, Utc};
use crm_core::UserId;
use crm_db::schema::imports;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

crm_core::named_enum! {
    /// What an import creates.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum ImportEntity in "snake_case" {
        /// Contacts.
        Contacts,
        /// Companies.
        Companies,
        /// Deals.
        Deals,
        /// Tasks.
        Tasks,
    }
}

crm_db::stored_name!(ImportEntity);

crm_core::named_enum! {
    /// Which value finds the record a row updates instead of creating one.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum UpsertKey in "snake_case" {
        /// The e-mail.
        Email,
        /// The phone.
        Phone,
        /// The deal number.
        Number,
        /// The company name.
        Name,
    }
}

impl UpsertKey {
    /// The keys records of `entity` may be upserted by.
    pub fn allowed(entity: ImportEntity) -> &'static [UpsertKey] {
        match entity {
            ImportEntity::Contacts => &[UpsertKey::Email, UpsertKey::Phone],
            ImportEntity::Companies => &[UpsertKey::Name, UpsertKey::Email, UpsertKey::Phone],
            ImportEntity::Deals => &[UpsertKey::Number],
            ImportEntity::Tasks => &[],
        }
    }

    /// The record crates' name of the key.
    pub fn by(self) -> crm_db::import_keys::UpsertBy {
        use crm_db::import_keys::UpsertBy;
        match self {
            UpsertKey::Email => UpsertBy::Email,
            UpsertKey::Phone => UpsertBy::Phone,
            UpsertKey::Number => UpsertBy::Number,
            UpsertKey::Name => UpsertBy::Name,
        }
    }
}

crm_db::stored_name!(UpsertKey);

crm_core::named_enum! {
    /// Where an import is.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum ImportStatus in "snake_case" {
        /// Waiting for a worker.
        Queued,
        /// Being read and written.
        Running,
        /// Every row was looked at (some may have failed: see `failedRows`).
        Succeeded,
        /// Stopped by an error of the file or the server (see `error`); rows written before
        /// it stay.
        Failed,
    }
}

crm_db::stored_name!(ImportStatus);

/// A row of `imports`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = imports)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ImportRow {
    pub id: Uuid,
    pub job_id: Uuid,
    pub created_by_id: Option<UserId>,
    pub api_key_id: Option<Uuid>,
    pub entity_type: ImportEntity,
    pub dry_run: bool,
    pub upsert_key: Option<UpsertKey>,
    pub file_name: String,
    pub mapping: Option<Value>,
    pub headers: Option<Vec<String>>,
    pub status: ImportStatus,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created_rows: i64,
    pub updated_rows: i64,
    pub failed_rows: i64,
    pub done_line: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One problem of one row: `row` is the line in the file (header = 1), `column` the header of
/// the column it is about (`null` when it is about the row as a whole).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line number in the file (header = 1).
    pub row: i64,
    /// The column's header.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// An import as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Import {
    /// Id.
    pub id: Uuid,
    /// What it creates.
    pub entity_type: ImportEntity,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: ImportStatus,
    /// Checks only; nothing is written.
    pub dry_run: bool,
    /// The value that finds records to update instead of creating them.
    pub upsert_key: Option<UpsertKey>,
    /// The uploaded file's name.
    pub file_name: String,
    /// The column → field mapping used (`null` until the file's headers were read).
    #[schema(value_type = Option<Object>)]
    pub mapping: Option<Value>,
    /// Data rows in the file (known once it is read to the end; until then the rows so far).
    pub total_rows: i64,
    /// Rows looked at so far.
    pub processed_rows: i64,
    /// Records created (in a dry run: that would be).
    pub created_rows: i64,
    /// Records updated.
    pub updated_rows: i64,
    /// Rows refused (see `errors` and `errors.csv`).
    pub failed_rows: i64,
    /// The first problems of refused rows (all of them in `errors.csv`).
    pub errors: Vec<RowError>,
    /// Why the import failed as a whole.
    pub error: Option<String>,
    /// Who started it.
    pub created_by_id: Option<UserId>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl Import {
    pub(crate) fn from_row(r: ImportRow, errors: Vec<RowError>) -> Self {
        Self {
            id: r.id,
            entity_type: r.entity_type,
            status: r.status,
            dry_run: r.dry_run,
            upsert_key: r.upsert_key,
            file_name: r.file_name,
            mapping: r.mapping,
            total_rows: r.total_rows,
            processed_rows: r.processed_rows,
            created_rows: r.created_rows,
            updated_rows: r.updated_rows,
            failed_rows: r.failed_rows,
            errors,
            error: r.error,
            created_by_id: r.created_by_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}
