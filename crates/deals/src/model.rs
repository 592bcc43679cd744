//! The deal record as stored and as the API shows it.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use crm_core::{CompanyId, ContactId, DealId, PipelineId, StageId, UserId};
use crm_db::schema::deals;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::amount::format_amount;
use crate::input::DealStatus;

/// A row of `deals`.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = deals)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct DealRow {
    pub id: DealId,
    pub number: i64,
    pub title: String,
    pub amount: Option<BigDecimal>,
    pub currency: String,
    pub pipeline_id: PipelineId,
    pub stage_id: StageId,
    pub position: i64,
    pub status: DealStatus,
    pub contact_id: Option<ContactId>,
    pub company_id: Option<CompanyId>,
    pub assigned_to_id: Option<UserId>,
    pub created_by_id: Option<UserId>,
    pub expected_close_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub lost_reason: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i32,
}

/// A deal as services return it and the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deal {
    /// Id.
    pub id: DealId,
    /// Human-friendly sequential number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Exact amount with two decimals, e.g. `"1500.00"`.
    #[schema(example = "1500.00")]
    pub amount: Option<String>,
    /// ISO-4217 currency code.
    pub currency: String,
    /// Pipeline.
    pub pipeline_id: PipelineId,
    /// Stage.
    pub stage_id: StageId,
    /// Sort key inside the stage (ascending; ties by id). Sparse: not an index, and keys of
    /// other deals may change when a crowded spot is respaced.
    pub position: i64,
    /// Derived from the stage type; read-only.
    pub status: DealStatus,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Company.
    pub company_id: Option<CompanyId>,
    /// Responsible user.
    pub assigned_to_id: Option<UserId>,
    /// Who created it.
    pub created_by_id: Option<UserId>,
    /// Expected closing time.
    pub expected_close_at: Option<DateTime<Utc>>,
    /// When the deal entered a WON or LOST stage; read-only.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was lost.
    pub lost_reason: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom field values.
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was trashed; null unless in the trash.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl From<DealRow> for Deal {
    fn from(r: DealRow) -> Self {
        Self {
            id: r.id,
            number: r.number,
            title: r.title,
            amount: r.amount.as_ref().map(format_amount),
            currency: r.currency,
            pipeline_id: r.pipeline_id,
            stage_id: r.stage_id,
            position: r.position,
            status: r.status,
            contact_id: r.contact_id,
            company_id: r.company_id,
            assigned_to_id: r.assigned_to_id,
            created_by_id: r.created_by_id,
            expected_close_at: r.expected_close_at,
            closed_at: r.closed_at,
            lost_reason: r.lost_reason,
            description: r.description,
            tags: r.tags,
            custom_fields: r.custom_fields,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            version: r.version,
        }
    }
}
