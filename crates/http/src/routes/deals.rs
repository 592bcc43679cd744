//! `/api/deals`: deals on pipeline stages, their order inside a stage, trash and batch.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use crm_core::{CompanyId, ContactId, DealId, PipelineId, StageId, UserId};
use crm_custom_fields::CustomFieldEntity;
use crm_db::AsyncPgConnection;
use crm_deals::amount::parse_decimal;
use crm_deals::{CreateDeal, Deal, DealSort, DealStatus, ListDeals, MoveDeal, UpdateDeal};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::batch::{BatchItemResult, BatchRequest, create_or_update};
use crate::body::Json;
use crate::envelope::{Data, Paged, created, listing, versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::trash::{self, DeleteQuery};

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_deals)
        .service(create_deal)
        .service(batch_deals)
        .service(get_deal)
        .service(update_deal)
        .service(delete_deal)
        .service(restore_deal)
        .service(move_deal);
}

/// The filters of `GET /api/deals`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DealFilters {
    /// Fragment of the title (case-insensitive).
    pub q: Option<String>,
    /// Only deals of this pipeline.
    pub pipeline_id: Option<PipelineId>,
    /// Only deals on this stage.
    pub stage_id: Option<StageId>,
    /// Only deals assigned to this user.
    pub assigned_to_id: Option<UserId>,
    /// Only deals of this contact.
    pub contact_id: Option<ContactId>,
    /// Only deals of this company.
    pub company_id: Option<CompanyId>,
    /// Only `open`, `won` or `lost` deals.
    pub status: Option<DealStatus>,
    /// Only amounts at least this (decimal string, e.g. `100.00`).
    pub amount_min: Option<String>,
    /// Only amounts at most this (decimal string).
    pub amount_max: Option<String>,
    /// Only deals carrying this tag.
    pub tag: Option<String>,
    /// Only deals whose contact has exactly this e-mail (case-insensitive).
    #[serde(rename = "contact.email")]
    #[param(rename = "contact.email")]
    pub contact_email: Option<String>,
    /// Only deals whose company name contains this fragment (case-insensitive).
    #[serde(rename = "company.name")]
    #[param(rename = "company.name")]
    pub company_name: Option<String>,
}

impl ListFilters for DealFilters {
    const SPEC: ListSpec = ListSpec::records(
        CustomFieldEntity::Deal,
        "Comma list of `createdAt`, `updatedAt`, `amount`, `title`, `number`, \
         `expectedCloseAt`, `position`; `-` for descending. Default `createdAt`, or `position` \
         (board order) with `stageId`.",
    );
}

/// The list's input from its query (shared by the list and the export).
pub(crate) async fn list_input(
    conn: &mut AsyncPgConnection,
    query: ListQuery<DealFilters>,
) -> Result<ListDeals, ApiError> {
    let default_sort = match query.filters.stage_id {
        Some(_) => DealSort::Position,
        None => DealSort::CreatedAt,
    };
    let (sort, custom_fields) = query
        .sort_and_filters(conn, DealSort::ALLOWED, default_sort, DealSort::CustomField)
        .await?;
    let (shared, f) = (query.list, query.filters);
    let decimal = |raw: Option<String>, field: &str| {
        raw.map(|r| parse_decimal(r.trim(), field, true))
            .transpose()
            .map_err(|e| ApiError::invalid(vec![e]))
    };
    Ok(ListDeals {
        page: shared.page,
        cursor: shared.cursor,
        sort,
        q: f.q,
        pipeline_id: f.pipeline_id,
        stage_id: f.stage_id,
        assigned_to_id: f.assigned_to_id,
        contact_id: f.contact_id,
        company_id: f.company_id,
        status: f.status,
        amount_min: decimal(f.amount_min, "amountMin")?,
        amount_max: decimal(f.amount_max, "amountMax")?,
        tag: f.tag,
        updated_since: shared.updated_since,
        deleted: shared.deleted,
        contact_email: f.contact_email,
        company_name: f.company_name,
        custom_fields,
    })
}

/// Lists deals (`deals.read`; without `deals.read_all` only those one created or is assigned
/// to). With `cursor` the answer is keyset-paged (`meta.nextCursor`).
///
/// Custom fields: `cf.<key>=value` (repeat for any of several; MULTI_SELECT: has the option),
/// `cf.<key>.gte|gt|lte|lt=value` (NUMBER, DATE, DATETIME), `cf.<key>.exists=true|false`, and
/// `sort=cf.<key>` / `-cf.<key>`. An unknown or inactive key is a 400 naming the parameter.
#[utoipa::path(get, path = "/deals", tag = "deals", params(ListQuery<DealFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Deal>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
))]
#[get("/deals")]
async fn list_deals(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<DealFilters>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let input = list_input(&mut conn, query).await?;
    Ok(listing(
        crm_deals::list_deals(&mut conn, &actor.0, &input).await?,
    ))
}

/// Creates a deal (`deals.write`) at the end of its stage.
#[utoipa::path(post, path = "/deals", tag = "deals", request_body = CreateDeal, security(("bearer" = [])), responses(
    (status = 201, body = Data<Deal>, headers(("Location" = String), ("ETag" = String))),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown stage, pipeline, contact, company or user; stage of another pipeline"),
))]
#[post("/deals")]
async fn create_deal(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateDeal>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let deal = crm_deals::create_deal(&mut conn, &actor.0, body.into_inner()).await?;
    let (location, version) = (format!("/api/deals/{}", deal.id), deal.version);
    Ok(created(location, deal, Some(version)))
}

/// Creates (items without `id`) or updates (items with `id` and optional `version`) up to 100
/// deals, each on its own.
#[utoipa::path(post, path = "/deals/batch", tag = "deals", request_body = BatchRequest, security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<BatchItemResult>>, description = "One result per item, in order"),
))]
#[post("/deals/batch")]
async fn batch_deals(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let (create, update) = (crm_deals::create_deal, crm_deals::update_deal);
    create_or_update(&state, &actor.0, body.into_inner(), create, update).await
}

/// Reads a deal (`deals.read`; 404 for trashed or invisible deals).
#[utoipa::path(get, path = "/deals/{id}", tag = "deals", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Deal>, headers(("ETag" = String))),
))]
#[get("/deals/{id}")]
async fn get_deal(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<DealId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let deal = crm_deals::get_deal(&mut conn, &actor.0, *id).await?;
    Ok(versioned(deal))
}

/// Changes a deal (`deals.write`). A new `stageId` moves it to the end of that stage;
/// `pipelineId` (+ `stageId`) moves it to another pipeline. `If-Match` guards against lost
/// updates (412).
#[utoipa::path(patch, path = "/deals/{id}", tag = "deals", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateDeal, security(("bearer" = [])), responses(
    (status = 200, body = Data<Deal>, headers(("ETag" = String))),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown stage, pipeline, contact, company or user; stage of another pipeline"),
))]
#[patch("/deals/{id}")]
async fn update_deal(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<DealId>,
    if_match: IfMatch,
    body: Json<UpdateDeal>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let deal =
        crm_deals::update_deal(&mut conn, &actor.0, *id, body.into_inner(), if_match.0).await?;
    Ok(versioned(deal))
}

/// Moves a deal to the trash (`deals.delete`), or with `permanent=true` deletes it for good
/// (admins only).
#[utoipa::path(delete, path = "/deals/{id}", tag = "deals", params(("id" = Uuid, Path), DeleteQuery, ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Trashed or deleted"),
))]
#[delete("/deals/{id}")]
async fn delete_deal(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<DealId>,
    query: web::Query<DeleteQuery>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    trash::delete(
        &state,
        &actor.0,
        *id,
        query.into_inner(),
        if_match,
        crm_deals::delete_deal,
    )
    .await
}

/// Takes a deal out of the trash (`deals.delete`), at the end of its stage.
#[utoipa::path(post, path = "/deals/{id}/restore", tag = "deals", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Deal>, headers(("ETag" = String))),
))]
#[post("/deals/{id}/restore")]
async fn restore_deal(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<DealId>,
) -> Result<HttpResponse, ApiError> {
    trash::restore(&state, &actor.0, *id, crm_deals::restore_deal).await
}

/// Puts a deal at `position` (a 0-based place; default and beyond the end: the end) of a stage
/// of its pipeline (`deals.write`). The deal's `position` in the answer is its new sort key,
/// between those of its new neighbours; the other deals normally keep theirs.
#[utoipa::path(post, path = "/deals/{id}/move", tag = "deals", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being moved")), request_body = MoveDeal, security(("bearer" = [])), responses(
    (status = 200, body = Data<Deal>, headers(("ETag" = String))),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown stage, or a stage of another pipeline"),
))]
#[post("/deals/{id}/move")]
async fn move_deal(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<DealId>,
    if_match: IfMatch,
    body: Json<MoveDeal>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let deal =
        crm_deals::move_deal(&mut conn, &actor.0, *id, body.into_inner(), if_match.0).await?;
    Ok(versioned(deal))
}
