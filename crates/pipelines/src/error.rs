//! Everything that can go wrong with pipelines and stages.

use crm_core::actor::Forbidden;
use crm_core::{DomainError, ErrorKind, FieldError};
use crm_core::{PipelineId, StageId};
use crm_db::DbError;

/// Failure of a pipeline or stage operation.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such pipeline.
    #[error("pipeline {0} not found")]
    PipelineNotFound(PipelineId),
    /// No such stage.
    #[error("stage {0} not found")]
    StageNotFound(StageId),
    /// `If-Match` named another version.
    #[error(transparent)]
    VersionMismatch(#[from] crm_core::VersionMismatch),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The change would leave no default pipeline.
    #[error("there must always be one default pipeline: make another pipeline the default first")]
    DefaultPipelineRequired,
    /// The change would leave a pipeline without stages.
    #[error("a pipeline keeps at least one stage")]
    LastStage,
    /// The stage still holds deals (trashed ones included).
    #[error("the stage holds {0} deal(s): pass moveDealsTo=<stageId> to move them")]
    StageInUse(i64),
    /// The pipeline still holds deals (trashed ones included).
    #[error(
        "the pipeline holds {0} deal(s): pass moveDealsTo=<stageId of another pipeline> to move them"
    )]
    PipelineInUse(i64),
    /// `moveDealsTo` names a missing or unfitting stage.
    #[error("invalid moveDealsTo: {0}")]
    InvalidMoveTarget(&'static str),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for PipelineError {
    fn from(e: diesel::result::Error) -> Self {
        PipelineError::Db(DbError::Query(e))
    }
}

impl From<FieldError> for PipelineError {
    fn from(e: FieldError) -> Self {
        PipelineError::Invalid(vec![e])
    }
}

impl DomainError for PipelineError {
    fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Invalid(_) => ErrorKind::Invalid,
            PipelineError::PipelineNotFound(_) | PipelineError::StageNotFound(_) => {
                ErrorKind::NotFound
            }
            PipelineError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            PipelineError::Forbidden(_) => ErrorKind::Forbidden,
            PipelineError::DefaultPipelineRequired
            | PipelineError::LastStage
            | PipelineError::StageInUse(_)
            | PipelineError::PipelineInUse(_) => ErrorKind::Conflict,
            PipelineError::InvalidMoveTarget(_) => ErrorKind::Unprocessable,
            PipelineError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            PipelineError::Invalid(_) => "validation_failed",
            PipelineError::PipelineNotFound(_) | PipelineError::StageNotFound(_) => "not_found",
            PipelineError::VersionMismatch(_) => "version_mismatch",
            PipelineError::Forbidden(_) => "forbidden",
            PipelineError::DefaultPipelineRequired => "default_pipeline_required",
            PipelineError::LastStage => "last_stage",
            PipelineError::StageInUse(_) => "stage_in_use",
            PipelineError::PipelineInUse(_) => "pipeline_in_use",
            PipelineError::InvalidMoveTarget(_) => "invalid_move_target",
            PipelineError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            PipelineError::Invalid(errors) => errors.clone(),
            PipelineError::InvalidMoveTarget(why) => vec![FieldError::new("moveDealsTo", *why)],
            _ => Vec::new(),
        }
    }
}
