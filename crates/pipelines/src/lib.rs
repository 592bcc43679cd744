//! Sales pipelines and their ordered stages: exactly one default pipeline (where deals land
//! when none is named), stage types that decide a deal's status (OPEN → open, WON → won,
//! LOST → lost), reordering, deletion that never loses a deal (its deals must be moved to
//! another stage first), and per-stage deal counts and exact per-currency totals.
//!
//! Depends on `crm-core`, `crm-db` and `crm-activity`; knows nothing of HTTP. The deals crate
//! uses [`stage_info`] and [`default_pipeline_first_stage`] to place deals.

pub mod error;
mod events;
pub mod input;
pub mod model;
pub mod service;

pub use error::PipelineError;
pub use input::{
    CreatePipeline, CreateStage, ListPipelines, MAX_STAGES, ReorderStages, StageInput,
    UpdatePipeline, UpdateStage,
};
pub use model::{CurrencyTotal, Pipeline, Stage, StageInfo, StageSummary, StageType};
pub use service::{
    create_pipeline, create_stage, default_pipeline_first_stage, delete_pipeline, delete_stage,
    get_pipeline, get_stage, list_pipelines, list_stages, pipeline_summary, reorder_stages,
    stage_info, update_pipeline, update_stage,
};
