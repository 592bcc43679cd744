//! The company record as stored and as the API shows it.

use chrono::{DateTime, Utc};
use crm_core::{CompanyId, UserId};
use crm_db::schema::companies;
use diesel::prelude::*;
use serde::Serialize;

/// A company: a row of `companies`, shown as is.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = companies)]
#[diesel(check_for_backend(diesel::pg::Pg))]
#[serde(rename_all = "camelCase")]
pub struct Company {
    /// Id.
    pub id: CompanyId,
    /// Name, unique case-insensitively among companies not in the trash.
    pub name: String,
    /// Web site (http or https URL).
    pub website: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// E-mail, lower-case.
    pub email: Option<String>,
    /// Phone number in E.164, e.g. `+14155552671`.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Number of employees.
    pub employees: Option<i32>,
    /// Free notes.
    pub notes: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom field values (an object).
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Value,
    /// The user responsible; users without `companies.read_all` see only their own companies.
    pub owner_id: Option<UserId>,
    /// Who created it.
    pub created_by_id: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was moved to the trash; `null` unless trashed.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl Company {
    /// The API representation as JSON, for change diffs.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
