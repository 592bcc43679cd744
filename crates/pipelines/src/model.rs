//! Pipelines and stages as stored and as the API shows them.

use chrono::{DateTime, Utc};
use crm_core::{PipelineId, StageId};
use crm_db::schema::{pipelines, stages};
use diesel::prelude::*;
use serde::Serialize;

crm_core::named_enum! {
    /// What reaching a stage means for a deal. API and storage name: upper case.
    #[derive(Default, diesel::deserialize::FromSqlRow)]
    pub enum StageType in "UPPERCASE" {
        /// The deal is still being worked on.
        #[default]
        Open,
        /// The deal was won.
        Won,
        /// The deal was lost.
        Lost,
    }
}

crm_db::stored_name!(StageType);

/// What other crates need to know about a stage to place a deal in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageInfo {
    /// The stage.
    pub id: StageId,
    /// Its pipeline.
    pub pipeline_id: PipelineId,
    /// Its type, which decides the deal status.
    pub kind: StageType,
}

/// A row of `stages`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stages)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub(crate) struct StageRow {
    pub id: StageId,
    pub pipeline_id: PipelineId,
    pub name: String,
    pub position: i32,
    pub color: String,
    pub kind: StageType,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A row of `pipelines`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pipelines)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub(crate) struct PipelineRow {
    pub id: PipelineId,
    pub name: String,
    pub description: Option<String>,
    pub is_default: bool,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// Id.
    pub id: StageId,
    /// The pipeline it belongs to.
    pub pipeline_id: PipelineId,
    /// Name.
    pub name: String,
    /// Place in the pipeline, 0-based.
    pub position: i32,
    /// Display colour, `#rrggbb`.
    pub color: String,
    /// `OPEN`, `WON` or `LOST`: decides the status of its deals.
    #[serde(rename = "type")]
    pub kind: StageType,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl From<StageRow> for Stage {
    fn from(r: StageRow) -> Self {
        Self {
            id: r.id,
            pipeline_id: r.pipeline_id,
            name: r.name,
            position: r.position,
            color: r.color,
            kind: r.kind,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

impl Stage {
    /// What placing a deal needs of this stage.
    pub fn info(&self) -> StageInfo {
        StageInfo {
            id: self.id,
            pipeline_id: self.pipeline_id,
            kind: self.kind,
        }
    }
}

impl StageRow {
    pub(crate) fn info(&self) -> StageInfo {
        StageInfo {
            id: self.id,
            pipeline_id: self.pipeline_id,
            kind: self.kind,
        }
    }
}

/// A pipeline with its stages in order.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    /// Id.
    pub id: PipelineId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Whether new deals land here when no pipeline is named; exactly one pipeline is.
    pub is_default: bool,
    /// Place among the pipelines.
    pub position: i32,
    /// Its stages ordered by position.
    pub stages: Vec<Stage>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl Pipeline {
    pub(crate) fn from_parts(r: PipelineRow, stages: Vec<Stage>) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            is_default: r.is_default,
            position: r.position,
            stages,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }

    /// The representation compared for activity entries: the stages have their own entries.
    pub(crate) fn activity_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("stages");
        }
        v
    }
}

/// The sum of deal amounts in one currency, as an exact decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CurrencyTotal {
    /// ISO currency code as stored on the deals.
    pub currency: String,
    /// Exact sum, e.g. `"1500.30"`.
    pub amount: String,
}

/// Deal figures of one stage (trashed deals excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageSummary {
    /// The stage.
    pub stage_id: StageId,
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: StageType,
    /// Number of deals in it.
    pub count: i64,
    /// Sum of amounts per currency (deals without an amount are counted but add nothing).
    pub totals: Vec<CurrencyTotal>,
}
