//! `/api/companies`: CRUD, trash, restore and batch of companies.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use crm_companies::{Company, CompanySort, CreateCompany, ListCompanies, UpdateCompany};
use crm_core::{CompanyId, UserId};
use crm_custom_fields::CustomFieldEntity;
use crm_db::AsyncPgConnection;
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
    cfg.service(list_companies)
        .service(create_company)
        .service(batch_companies)
        .service(get_company)
        .service(update_company)
        .service(delete_company)
        .service(restore_company);
}

/// The filters of `GET /api/companies`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompanyFilters {
    /// Fragment of the name (case-insensitive).
    pub q: Option<String>,
    /// Only this industry (case-insensitive).
    pub industry: Option<String>,
    /// Only companies of this owner.
    pub owner_id: Option<UserId>,
    /// Only companies with this tag.
    pub tag: Option<String>,
}

impl ListFilters for CompanyFilters {
    const SPEC: ListSpec = ListSpec::records(
        CustomFieldEntity::Company,
        "Comma list of `createdAt`, `updatedAt`, `name`, `employees`; `-` for descending. \
         Default `createdAt`.",
    );
}

/// The list's input from its query (shared by the list and the export).
pub(crate) async fn list_input(
    conn: &mut AsyncPgConnection,
    query: ListQuery<CompanyFilters>,
) -> Result<ListCompanies, ApiError> {
    let (sort, custom_fields) = query
        .sort_and_filters(
            conn,
            CompanySort::ALLOWED,
            CompanySort::CreatedAt,
            CompanySort::CustomField,
        )
        .await?;
    let (shared, f) = (query.list, query.filters);
    Ok(ListCompanies {
        page: shared.page,
        sort,
        cursor: shared.cursor,
        q: f.q,
        industry: f.industry,
        owner_id: f.owner_id,
        tag: f.tag,
        updated_since: shared.updated_since,
        deleted: shared.deleted,
        custom_fields,
    })
}

/// Lists the companies the actor may see (`companies.read`; all of them with
/// `companies.read_all`, otherwise the ones they own). With `cursor` the answer is
/// keyset-paged (`meta.nextCursor`).
///
/// Custom fields: `cf.<key>=value` (repeat for any of several; MULTI_SELECT: has the option),
/// `cf.<key>.gte|gt|lte|lt=value` (NUMBER, DATE, DATETIME), `cf.<key>.exists=true|false`, and
/// `sort=cf.<key>` / `-cf.<key>`. An unknown or inactive key is a 400 naming the parameter.
#[utoipa::path(get, path = "/companies", tag = "companies", params(ListQuery<CompanyFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Company>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
))]
#[get("/companies")]
async fn list_companies(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<CompanyFilters>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let input = list_input(&mut conn, query).await?;
    Ok(listing(
        crm_companies::list_companies(&mut conn, &actor.0, &input).await?,
    ))
}

/// Creates a company (`companies.write`).
#[utoipa::path(post, path = "/companies", tag = "companies", request_body = CreateCompany, security(("bearer" = [])), responses(
    (status = 201, body = Data<Company>, headers(("Location" = String), ("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "Name already in use (`duplicate_company_name`)"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_user` owner"),
))]
#[post("/companies")]
async fn create_company(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateCompany>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let company = crm_companies::create_company(&mut conn, &actor.0, body.into_inner()).await?;
    let (location, version) = (format!("/api/companies/{}", company.id), company.version);
    Ok(created(location, company, Some(version)))
}

/// Creates (items without `id`) or updates (with `id`, optional `version` as If-Match) up to
/// 100 companies, each on its own: one result per item, in order.
#[utoipa::path(post, path = "/companies/batch", tag = "companies", request_body = BatchRequest, security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<BatchItemResult>>),
))]
#[post("/companies/batch")]
async fn batch_companies(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let (create, update) = (crm_companies::create_company, crm_companies::update_company);
    create_or_update(&state, &actor.0, body.into_inner(), create, update).await
}

/// Reads a company (`companies.read`); trashed or not visible: 404.
#[utoipa::path(get, path = "/companies/{id}", tag = "companies", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Company>, headers(("ETag" = String))),
))]
#[get("/companies/{id}")]
async fn get_company(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CompanyId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let company = crm_companies::get_company(&mut conn, &actor.0, *id).await?;
    Ok(versioned(company))
}

/// Changes a company (`companies.write`). `null` clears a field. `If-Match` guards against
/// lost updates (412).
#[utoipa::path(patch, path = "/companies/{id}", tag = "companies", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateCompany, security(("bearer" = [])), responses(
    (status = 200, body = Data<Company>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "Name already in use (`duplicate_company_name`)"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_user` owner"),
))]
#[patch("/companies/{id}")]
async fn update_company(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CompanyId>,
    if_match: IfMatch,
    body: Json<UpdateCompany>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let company =
        crm_companies::update_company(&mut conn, &actor.0, *id, body.into_inner(), if_match.0)
            .await?;
    Ok(versioned(company))
}

/// Moves a company to the trash (`companies.delete`); `?permanent=true` deletes it for good
/// (admins only). Its contacts are never deleted: they stay linked to a trashed company and
/// lose the link when it is deleted for good.
#[utoipa::path(delete, path = "/companies/{id}", tag = "companies", params(("id" = Uuid, Path), DeleteQuery, ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Trashed or deleted"),
))]
#[delete("/companies/{id}")]
async fn delete_company(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CompanyId>,
    query: web::Query<DeleteQuery>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    trash::delete(
        &state,
        &actor.0,
        *id,
        query.into_inner(),
        if_match,
        crm_companies::delete_company,
    )
    .await
}

/// Takes a company out of the trash (`companies.delete`); 409 when another company took its
/// name meanwhile.
#[utoipa::path(post, path = "/companies/{id}/restore", tag = "companies", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Company>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "Name taken meanwhile (`duplicate_company_name`)"),
))]
#[post("/companies/{id}/restore")]
async fn restore_company(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CompanyId>,
) -> Result<HttpResponse, ApiError> {
    trash::restore(&state, &actor.0, *id, crm_companies::restore_company).await
}
