//! `/api/comments`: comments and internal notes on deals, contacts and tasks.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use crm_comments::{Comment, CommentTarget, CreateComment, UpdateComment};
use crm_core::{CommentId, EntityRef};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::body::Json;
use crate::envelope::{Data, Paged, created, cursor_list, list, ok_versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::visibility::ensure_visible;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_comments)
        .service(create_comment)
        .service(get_comment)
        .service(update_comment)
        .service(delete_comment);
}

/// The record of `GET /api/comments`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommentFilters {
    /// Kind of the record.
    pub entity_type: CommentTarget,
    /// Id of the record.
    pub entity_id: Uuid,
}

impl ListFilters for CommentFilters {
    const SPEC: ListSpec = ListSpec {
        cursor: true,
        ..ListSpec::PAGED
    };
}

fn parent(comment: &Comment) -> EntityRef {
    EntityRef::new(comment.entity_type.kind(), comment.entity_id)
}

/// The comments on a record, oldest first (`comments.read` and the right to see the record).
/// With `cursor` the answer is keyset-paged (`meta.nextCursor`).
#[utoipa::path(get, path = "/comments", tag = "comments", params(ListQuery<CommentFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Comment>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such record, or not visible"),
))]
#[get("/comments")]
async fn list_comments(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<CommentFilters>,
) -> Result<HttpResponse, ApiError> {
    let (target, id) = (query.filters.entity_type, query.filters.entity_id);
    let page = query.list.page;
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &actor.0, EntityRef::new(target.kind(), id)).await?;
    Ok(match query.list.cursor {
        Some(cursor) => cursor_list(
            crm_comments::list_comments_cursor(&mut conn, &actor.0, target, id, cursor, page.limit)
                .await?,
        ),
        None => list(crm_comments::list_comments(&mut conn, &actor.0, target, id, page).await?),
    })
}

/// Comments on a record (`comments.write`); the record must exist, not be in the trash and be
/// visible to the actor (else 422 `unknown_entity`). The record's timeline gets
/// `comment.created`.
#[utoipa::path(post, path = "/comments", tag = "comments", request_body = CreateComment, security(("bearer" = [])), responses(
    (status = 201, body = Data<Comment>, headers(("Location" = String), ("ETag" = String))),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_entity`"),
))]
#[post("/comments")]
async fn create_comment(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateComment>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    let mut conn = state.conn().await?;
    let entity = EntityRef::new(input.entity_type.kind(), input.entity_id);
    if let Err(e) = ensure_visible(&mut conn, &actor.0, entity).await {
        // A record the actor may not see is reported like a missing one.
        return Err(if e.status() == StatusCode::NOT_FOUND {
            crm_comments::CommentError::UnknownEntity(input.entity_type.as_str(), input.entity_id)
                .into()
        } else {
            e
        });
    }
    let comment = crm_comments::create_comment(&mut conn, &actor.0, input).await?;
    let (location, version) = (format!("/api/comments/{}", comment.id), comment.version);
    Ok(created(location, comment, Some(version)))
}

/// Reads a comment (`comments.read` and the right to see its record).
#[utoipa::path(get, path = "/comments/{id}", tag = "comments", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Comment>, headers(("ETag" = String))),
))]
#[get("/comments/{id}")]
async fn get_comment(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CommentId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let comment = crm_comments::get_comment(&mut conn, &actor.0, *id).await?;
    ensure_visible(&mut conn, &actor.0, parent(&comment)).await?;
    let version = comment.version;
    Ok(ok_versioned(comment, version))
}

/// Changes one's own comment (`comments.write`; others get 403 `not_author`).
#[utoipa::path(patch, path = "/comments/{id}", tag = "comments", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateComment, security(("bearer" = [])), responses(
    (status = 200, body = Data<Comment>, headers(("ETag" = String))),
    (status = 403, body = Problem, content_type = "application/problem+json", description = "`forbidden` or `not_author`"),
))]
#[patch("/comments/{id}")]
async fn update_comment(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CommentId>,
    if_match: IfMatch,
    body: Json<UpdateComment>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let comment = crm_comments::get_comment(&mut conn, &actor.0, *id).await?;
    ensure_visible(&mut conn, &actor.0, parent(&comment)).await?;
    let comment =
        crm_comments::update_comment(&mut conn, &actor.0, *id, body.into_inner(), if_match.0)
            .await?;
    let version = comment.version;
    Ok(ok_versioned(comment, version))
}

/// Deletes a comment for good: one's own (`comments.write`) or anyone's (`comments.delete`,
/// admins by default).
#[utoipa::path(delete, path = "/comments/{id}", tag = "comments", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
))]
#[delete("/comments/{id}")]
async fn delete_comment(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CommentId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let comment = crm_comments::get_comment(&mut conn, &actor.0, *id).await?;
    ensure_visible(&mut conn, &actor.0, parent(&comment)).await?;
    crm_comments::delete_comment(&mut conn, &actor.0, *id, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
