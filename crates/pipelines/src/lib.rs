//! Sales pipelines and their ordered stages: exactly one default pipeline (where deals land
//! when none is named), stage types (OPEN, WON, LOST: `crm-deals` derives a deal's status
//! from them), reordering, and per-stage deal counts and exact per-currency totals.
//!
//! Deals sit above this crate and own every deal rule: deleting a stage or pipeline that holds
//! deals, or changing a stage's type, moves or re-derives deals, so those use cases are
//! `crm_deals::{delete_holder, update_stage}`, built on the stage halves here
//! ([`lock_stage_for_deletion`], [`remove_stage`], [`lock_pipeline_for_deletion`],
//! [`remove_pipeline`], [`lock_move_target`], [`update_stage`]).
//!
//! Depends on `crm-core`, `crm-db` and `crm-activity`; knows nothing of HTTP.

pub mod error;
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
    DealsMoved, create_pipeline, create_stage, get_pipeline, get_stage, list_pipelines,
    list_stages, lock_move_target, lock_pipeline_for_deletion, lock_stage_for_deletion,
    pipeline_summary, remove_pipeline, remove_stage, reorder_stages, update_pipeline, update_stage,
};
