//! Everything that can go wrong with deals.

use crm_core::actor::Forbidden;
use crm_core::{
    CompanyId, ContactId, DealId, DomainError, ErrorKind, FieldError, PipelineId, StageId, UserId,
};
use crm_custom_fields::CustomFieldError;
use crm_db::DbError;
use crm_pipelines::PipelineError;

/// Failure of a deal operation.
#[derive(Debug, thiserror::Error)]
pub enum DealError {
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such deal, or not visible to the actor.
    #[error("deal {0} not found")]
    NotFound(DealId),
    /// `stageId` names no stage.
    #[error("stage {0} does not exist")]
    UnknownStage(StageId),
    /// `pipelineId` names no pipeline.
    #[error("pipeline {0} does not exist")]
    UnknownPipeline(PipelineId),
    /// The stage belongs to another pipeline than the one named or the deal's.
    #[error("stage {0} is not a stage of the deal's pipeline")]
    StageNotInPipeline(StageId),
    /// No `pipelineId` or `stageId` was given and no pipeline is the default.
    #[error("no pipeline is the default: name a pipelineId or a stageId")]
    NoDefaultPipeline,
    /// The pipeline has no OPEN stage to place a deal on.
    #[error("pipeline {0} has no open stage")]
    NoOpenStage(PipelineId),
    /// `contactId` names no contact, or a trashed one.
    #[error("contact {0} does not exist")]
    UnknownContact(ContactId),
    /// `companyId` names no company, or a trashed one.
    #[error("company {0} does not exist")]
    UnknownCompany(CompanyId),
    /// `assignedToId` names no active user.
    #[error("user {0} does not exist or is deactivated")]
    UnknownUser(UserId),
    /// `If-Match` named another version.
    #[error(transparent)]
    VersionMismatch(#[from] crm_core::VersionMismatch),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Only admins may delete deals for good.
    #[error("only admins may delete deals permanently")]
    AdminOnly,
    /// The deal kept moving while this request tried to lock it; retrying will succeed.
    #[error("the deal is being moved by someone else; retry")]
    Busy(DealId),
    /// A custom field failure other than invalid values (those are `Invalid`): a unique
    /// value taken by another record.
    #[error(transparent)]
    CustomFields(CustomFieldError),
    /// A stage or pipeline failure of a use case that moves deals (deleting a stage or
    /// pipeline, changing a stage's type).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<CustomFieldError> for DealError {
    fn from(e: CustomFieldError) -> Self {
        match e {
            CustomFieldError::Invalid(errors) => DealError::Invalid(errors),
            other => DealError::CustomFields(other),
        }
    }
}

impl From<diesel::result::Error> for DealError {
    fn from(e: diesel::result::Error) -> Self {
        match crm_custom_fields::unique_violation(&e) {
            Some(dup) => DealError::CustomFields(dup),
            None => DealError::Db(DbError::Query(e)),
        }
    }
}

impl From<FieldError> for DealError {
    fn from(e: FieldError) -> Self {
        DealError::Invalid(vec![e])
    }
}

impl DomainError for DealError {
    fn kind(&self) -> ErrorKind {
        match self {
            DealError::Invalid(_) => ErrorKind::Invalid,
            DealError::NotFound(_) => ErrorKind::NotFound,
            DealError::UnknownStage(_)
            | DealError::UnknownPipeline(_)
            | DealError::StageNotInPipeline(_)
            | DealError::NoOpenStage(_)
            | DealError::NoDefaultPipeline
            | DealError::UnknownContact(_)
            | DealError::UnknownCompany(_)
            | DealError::UnknownUser(_) => ErrorKind::Unprocessable,
            DealError::VersionMismatch(_) => ErrorKind::PreconditionFailed,
            DealError::Busy(_) => ErrorKind::Conflict,
            DealError::Forbidden(_) | DealError::AdminOnly => ErrorKind::Forbidden,
            DealError::CustomFields(e) => e.kind(),
            DealError::Pipeline(e) => e.kind(),
            DealError::Db(e) => e.kind(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            DealError::Invalid(_) => "validation_failed",
            DealError::NotFound(_) => "not_found",
            DealError::UnknownStage(_) => "unknown_stage",
            DealError::UnknownPipeline(_) => "unknown_pipeline",
            DealError::StageNotInPipeline(_) => "stage_not_in_pipeline",
            DealError::NoOpenStage(_) => "no_open_stage",
            DealError::NoDefaultPipeline => "no_default_pipeline",
            DealError::UnknownContact(_) => "unknown_contact",
            DealError::UnknownCompany(_) => "unknown_company",
            DealError::UnknownUser(_) => "unknown_user",
            DealError::VersionMismatch(_) => "version_mismatch",
            DealError::Busy(_) => "deal_busy",
            DealError::Forbidden(_) | DealError::AdminOnly => "forbidden",
            DealError::CustomFields(e) => e.code(),
            DealError::Pipeline(e) => e.code(),
            DealError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            DealError::Invalid(errors) => errors.clone(),
            DealError::UnknownStage(_) | DealError::StageNotInPipeline(_) => {
                vec![FieldError::new("stageId", self.to_string())]
            }
            DealError::UnknownPipeline(_)
            | DealError::NoOpenStage(_)
            | DealError::NoDefaultPipeline => {
                vec![FieldError::new("pipelineId", self.to_string())]
            }
            DealError::UnknownContact(_) => vec![FieldError::new("contactId", self.to_string())],
            DealError::UnknownCompany(_) => vec![FieldError::new("companyId", self.to_string())],
            DealError::UnknownUser(_) => vec![FieldError::new("assignedToId", self.to_string())],
            DealError::CustomFields(e) => e.field_errors(),
            DealError::Pipeline(e) => e.field_errors(),
            _ => Vec::new(),
        }
    }
}
