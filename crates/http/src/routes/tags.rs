//! `/api/tags`: the tag registry with usage counts; rename, merge and delete rewrite records.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use crm_core::TagId;
use crm_tags::{CreateTag, MergeTag, Tag, UpdateTag};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::body::Json;
use crate::envelope::{Data, List, created, list, ok_versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_tags)
        .service(create_tag)
        .service(get_tag)
        .service(update_tag)
        .service(delete_tag)
        .service(merge_tag);
}

/// The filters of `GET /api/tags`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TagFilters {
    /// Fragment of the name (case-insensitive).
    pub q: Option<String>,
}

impl ListFilters for TagFilters {
    const SPEC: ListSpec = ListSpec::whole("the whole registry fits a page or two");
}

/// Every tag with its usage count (non-trashed contacts, companies, deals and tasks carrying
/// it), by name. Any signed-in user.
#[utoipa::path(get, path = "/tags", tag = "tags", params(ListQuery<TagFilters>), security(("bearer" = [])), responses(
    (status = 200, body = List<Tag>),
))]
#[get("/tags")]
async fn list_tags(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<TagFilters>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let tags = crm_tags::list_tags(&mut conn, &actor.0, query.filters.q.as_deref()).await?;
    Ok(list(query.list.page.slice(tags)))
}

/// Registers a tag (`tags.manage`); a name taken case-insensitively is 409 `duplicate_tag`.
#[utoipa::path(post, path = "/tags", tag = "tags", request_body = CreateTag, security(("bearer" = [])), responses(
    (status = 201, body = Data<Tag>, headers(("Location" = String), ("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`duplicate_tag`"),
))]
#[post("/tags")]
async fn create_tag(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateTag>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let tag = crm_tags::create_tag(&mut conn, &actor.0, body.into_inner()).await?;
    let (location, version) = (format!("/api/tags/{}", tag.id), tag.version);
    Ok(created(location, tag, Some(version)))
}

/// Reads a tag with its usage count.
#[utoipa::path(get, path = "/tags/{id}", tag = "tags", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Tag>, headers(("ETag" = String))),
))]
#[get("/tags/{id}")]
async fn get_tag(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TagId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let tag = crm_tags::get_tag(&mut conn, &actor.0, *id).await?;
    let version = tag.version;
    Ok(ok_versioned(tag, version))
}

/// Renames or recolours a tag (`tags.manage`); a new name is written to every record carrying
/// the old one. Another tag's name is 409 `duplicate_tag` (merge instead).
#[utoipa::path(patch, path = "/tags/{id}", tag = "tags", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateTag, security(("bearer" = [])), responses(
    (status = 200, body = Data<Tag>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`duplicate_tag`"),
))]
#[patch("/tags/{id}")]
async fn update_tag(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TagId>,
    if_match: IfMatch,
    body: Json<UpdateTag>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let tag = crm_tags::update_tag(&mut conn, &actor.0, *id, body.into_inner(), if_match.0).await?;
    let version = tag.version;
    Ok(ok_versioned(tag, version))
}

/// Deletes a tag and removes it from every record (`tags.manage`).
#[utoipa::path(delete, path = "/tags/{id}", tag = "tags", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
))]
#[delete("/tags/{id}")]
async fn delete_tag(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TagId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    crm_tags::delete_tag(&mut conn, &actor.0, *id, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Merges a tag into another (`tags.manage`): records carrying it carry the target instead and
/// the tag is deleted. Answers with the target.
#[utoipa::path(post, path = "/tags/{id}/merge", tag = "tags", params(("id" = Uuid, Path)), request_body = MergeTag, security(("bearer" = [])), responses(
    (status = 200, body = Data<Tag>, headers(("ETag" = String))),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_tag`: no such target"),
))]
#[post("/tags/{id}/merge")]
async fn merge_tag(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TagId>,
    body: Json<MergeTag>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let tag = crm_tags::merge_tag(&mut conn, &actor.0, *id, body.into_inner()).await?;
    let version = tag.version;
    Ok(ok_versioned(tag, version))
}
