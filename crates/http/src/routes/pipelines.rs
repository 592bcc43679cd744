//! `/api/pipelines` and `/api/stages`: pipelines, their stages, stage order and the per-stage
//! deal summary.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use crm_core::{PageRequest, PipelineId, StageId};
use crm_deals::DealHolder;
use crm_pipelines::{
    CreatePipeline, CreateStage, ListPipelines, Pipeline, ReorderStages, Stage, StageSummary,
    UpdatePipeline, UpdateStage,
};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::body::Json;
use crate::envelope::{Data, List, created, list, ok, ok_versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_pipelines)
        .service(create_pipeline)
        .service(get_pipeline)
        .service(update_pipeline)
        .service(delete_pipeline)
        .service(list_stages)
        .service(create_stage)
        .service(reorder_stages)
        .service(pipeline_summary)
        .service(get_stage)
        .service(update_stage)
        .service(delete_stage);
}

/// Query of `GET /api/pipelines`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListPipelinesQuery {
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Fragment of the name (case-insensitive).
    pub q: Option<String>,
    /// Only pipelines changed at or after this time (RFC 3339).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Query of the deletes: where the deals of the deleted stage or pipeline go.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MoveDealsQuery {
    /// Stage that receives the deals (trashed ones included) before the deletion.
    pub move_deals_to: Option<StageId>,
}

/// Lists pipelines with their stages, ordered by position then creation (`pipelines.read`).
#[utoipa::path(get, path = "/pipelines", tag = "pipelines", params(ListPipelinesQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<Pipeline>),
))]
#[get("/pipelines")]
async fn list_pipelines(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: web::Query<ListPipelinesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageRequest::new(q.page, q.limit).map_err(|e| ApiError::invalid(vec![e]))?;
    let input = ListPipelines {
        page,
        q: q.q,
        updated_since: q.updated_since,
    };
    let mut conn = state.conn().await?;
    Ok(list(
        crm_pipelines::list_pipelines(&mut conn, &actor.0, &input).await?,
    ))
}

/// Creates a pipeline (`pipelines.manage`); without `stages` it gets New, Qualified, Proposal,
/// Negotiation (OPEN), Won (WON), Lost (LOST). `isDefault: true` makes it the one default.
#[utoipa::path(post, path = "/pipelines", tag = "pipelines", request_body = CreatePipeline, security(("bearer" = [])), responses(
    (status = 201, body = Data<Pipeline>, headers(("Location" = String), ("ETag" = String))),
))]
#[post("/pipelines")]
async fn create_pipeline(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreatePipeline>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let p = crm_pipelines::create_pipeline(&mut conn, &actor.0, body.into_inner()).await?;
    let (location, version) = (format!("/api/pipelines/{}", p.id), p.version);
    Ok(created(location, p, Some(version)))
}

/// Reads a pipeline with its stages (`pipelines.read`).
#[utoipa::path(get, path = "/pipelines/{id}", tag = "pipelines", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Pipeline>, headers(("ETag" = String))),
))]
#[get("/pipelines/{id}")]
async fn get_pipeline(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<PipelineId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let p = crm_pipelines::get_pipeline(&mut conn, &actor.0, *id).await?;
    let version = p.version;
    Ok(ok_versioned(p, version))
}

/// Changes a pipeline (`pipelines.manage`). `isDefault: true` makes it the default (the
/// previous one stops being it); `isDefault: false` on the default is 409.
#[utoipa::path(patch, path = "/pipelines/{id}", tag = "pipelines", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdatePipeline, security(("bearer" = [])), responses(
    (status = 200, body = Data<Pipeline>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`default_pipeline_required`: the default cannot stop being the default"),
))]
#[patch("/pipelines/{id}")]
async fn update_pipeline(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<PipelineId>,
    if_match: IfMatch,
    body: Json<UpdatePipeline>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let p = crm_pipelines::update_pipeline(&mut conn, &actor.0, *id, body.into_inner(), if_match.0)
        .await?;
    let version = p.version;
    Ok(ok_versioned(p, version))
}

/// Deletes a pipeline and its stages for good (`pipelines.manage`). Never the default one;
/// while it holds deals, only with `moveDealsTo` naming a stage of another pipeline.
#[utoipa::path(delete, path = "/pipelines/{id}", tag = "pipelines", params(("id" = Uuid, Path), MoveDealsQuery, ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`default_pipeline_required` or `pipeline_in_use`"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`invalid_move_target`"),
))]
#[delete("/pipelines/{id}")]
async fn delete_pipeline(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<PipelineId>,
    query: web::Query<MoveDealsQuery>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    crm_deals::delete_holder(
        &mut conn,
        &actor.0,
        DealHolder::Pipeline(*id),
        query.move_deals_to,
        if_match.0,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The stages of a pipeline in order (`pipelines.read`).
#[utoipa::path(get, path = "/pipelines/{id}/stages", tag = "pipelines", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<Stage>>),
))]
#[get("/pipelines/{id}/stages")]
async fn list_stages(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<PipelineId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    Ok(ok(
        crm_pipelines::list_stages(&mut conn, &actor.0, *id).await?
    ))
}

/// Adds a stage to a pipeline (`pipelines.manage`), at `position` or at the end.
#[utoipa::path(post, path = "/pipelines/{id}/stages", tag = "pipelines", params(("id" = Uuid, Path)), request_body = CreateStage, security(("bearer" = [])), responses(
    (status = 201, body = Data<Stage>, headers(("Location" = String), ("ETag" = String))),
))]
#[post("/pipelines/{id}/stages")]
async fn create_stage(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<PipelineId>,
    body: Json<CreateStage>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let s = crm_pipelines::create_stage(&mut conn, &actor.0, *id, body.into_inner()).await?;
    let (location, version) = (format!("/api/stages/{}", s.id), s.version);
    Ok(created(location, s, Some(version)))
}

/// Puts a pipeline's stages in a new order (`pipelines.manage`); `stageIds` must be exactly
/// its stage ids. Answers the stages in the new order.
#[utoipa::path(put, path = "/pipelines/{id}/stages/order", tag = "pipelines", params(("id" = Uuid, Path)), request_body = ReorderStages, security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<Stage>>),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "`stageIds` is not a permutation of the pipeline's stages"),
))]
#[put("/pipelines/{id}/stages/order")]
async fn reorder_stages(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<PipelineId>,
    body: Json<ReorderStages>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    Ok(ok(crm_pipelines::reorder_stages(
        &mut conn,
        &actor.0,
        *id,
        body.into_inner(),
    )
    .await?))
}

/// Per stage in order: the number of deals (trash excluded) and their amounts summed per
/// currency as exact decimal strings (`pipelines.read`).
#[utoipa::path(get, path = "/pipelines/{id}/summary", tag = "pipelines", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<StageSummary>>),
))]
#[get("/pipelines/{id}/summary")]
async fn pipeline_summary(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<PipelineId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    Ok(ok(crm_pipelines::pipeline_summary(
        &mut conn, &actor.0, *id,
    )
    .await?))
}

/// Reads a stage (`pipelines.read`).
#[utoipa::path(get, path = "/stages/{id}", tag = "pipelines", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Stage>, headers(("ETag" = String))),
))]
#[get("/stages/{id}")]
async fn get_stage(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<StageId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let s = crm_pipelines::get_stage(&mut conn, &actor.0, *id).await?;
    let version = s.version;
    Ok(ok_versioned(s, version))
}

/// Changes a stage (`pipelines.manage`); a new `type` re-derives the status of its deals.
#[utoipa::path(patch, path = "/stages/{id}", tag = "pipelines", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateStage, security(("bearer" = [])), responses(
    (status = 200, body = Data<Stage>, headers(("ETag" = String))),
))]
#[patch("/stages/{id}")]
async fn update_stage(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<StageId>,
    if_match: IfMatch,
    body: Json<UpdateStage>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let s =
        crm_deals::update_stage(&mut conn, &actor.0, *id, body.into_inner(), if_match.0).await?;
    let version = s.version;
    Ok(ok_versioned(s, version))
}

/// Deletes a stage for good (`pipelines.manage`); never a pipeline's last stage. While it
/// holds deals (trashed ones included), only with `moveDealsTo` naming another stage.
#[utoipa::path(delete, path = "/stages/{id}", tag = "pipelines", params(("id" = Uuid, Path), MoveDealsQuery, ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`last_stage` or `stage_in_use` (the count in `detail`)"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`invalid_move_target`"),
))]
#[delete("/stages/{id}")]
async fn delete_stage(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<StageId>,
    query: web::Query<MoveDealsQuery>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    crm_deals::delete_holder(
        &mut conn,
        &actor.0,
        DealHolder::Stage(*id),
        query.move_deals_to,
        if_match.0,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
