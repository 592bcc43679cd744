//! Inputs of the pipeline and stage services, validated with garde before anything touches
//! the database.

use crm_core::StageId;
use garde::Validate;
use serde::Deserialize;

use crate::model::StageType;

/// Most stages a pipeline may have.
pub const MAX_STAGES: usize = 50;

fn valid_color(value: &Option<String>, _: &()) -> garde::Result {
    match value {
        Some(c) if !crm_core::checks::is_color(c) => {
            Err(garde::Error::new("must be a colour like #1a2b3c"))
        }
        _ => Ok(()),
    }
}

fn not_blank(value: &str, _: &()) -> garde::Result {
    if value.trim().is_empty() {
        Err(garde::Error::new("must not be blank"))
    } else {
        Ok(())
    }
}

fn opt_not_blank(value: &Option<String>, ctx: &()) -> garde::Result {
    value.as_deref().map_or(Ok(()), |v| not_blank(v, ctx))
}

/// A stage given with a new pipeline.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageInput {
    /// Name.
    #[garde(length(chars, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Colour `#rrggbb` (default `#9e9e9e`).
    #[garde(custom(valid_color))]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
    /// Type (default `OPEN`).
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: Option<StageType>,
}

/// A new pipeline.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePipeline {
    /// Name.
    #[garde(length(chars, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Free text.
    #[garde(inner(length(chars, max = 2000)))]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Make it the default pipeline (the previous default stops being one).
    #[serde(default)]
    #[garde(skip)]
    pub is_default: bool,
    /// Place among the pipelines (default: after the last).
    #[garde(inner(range(min = 0, max = 1_000_000)))]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub position: Option<i32>,
    /// Its stages in order (default: New, Qualified, Proposal, Negotiation, Won, Lost).
    #[garde(length(min = 1, max = MAX_STAGES), dive)]
    #[schema(min_items = 1, max_items = 50)]
    pub stages: Option<Vec<StageInput>>,
}

/// A change to a pipeline; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePipeline {
    /// Name.
    #[garde(inner(length(chars, max = 100)), custom(opt_not_blank))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Free text; `null` clears it.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[garde(inner(inner(length(chars, max = 2000))))]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
    /// `true` makes it the default (the previous default stops being one); `false` on the
    /// default is refused (409 `default_pipeline_required`).
    #[garde(skip)]
    pub is_default: Option<bool>,
    /// Place among the pipelines.
    #[garde(inner(range(min = 0, max = 1_000_000)))]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub position: Option<i32>,
}

/// A new stage of an existing pipeline.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateStage {
    /// Name.
    #[garde(length(chars, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Colour `#rrggbb` (default `#9e9e9e`).
    #[garde(custom(valid_color))]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
    /// Type (default `OPEN`).
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: Option<StageType>,
    /// Where to insert it (0-based; default: at the end). Later stages move down one place.
    #[garde(inner(range(min = 0, max = 1_000_000)))]
    #[schema(minimum = 0)]
    pub position: Option<i32>,
}

/// A change to a stage; absent fields stay as they are. Reorder with
/// `PUT /api/pipelines/{id}/stages/order`.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateStage {
    /// Name.
    #[garde(inner(length(chars, max = 100)), custom(opt_not_blank))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Colour `#rrggbb`.
    #[garde(custom(valid_color))]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
    /// Type; changing it re-derives the status of the stage's deals.
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: Option<StageType>,
}

/// The new order of a pipeline's stages: exactly its stage ids, each once.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReorderStages {
    /// Every stage id of the pipeline, in the new order.
    pub stage_ids: Vec<StageId>,
}

/// A validated pipeline list request (ordered by position, then creation).
#[derive(Debug, Clone, Default)]
pub struct ListPipelines {
    /// Which page.
    pub page: crm_core::PageRequest,
    /// Fragment of the name, case-insensitive.
    pub q: Option<String>,
    /// Only pipelines changed at or after this time.
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}
