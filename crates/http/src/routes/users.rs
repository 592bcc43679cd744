//! `/api/users`: admin CRUD of users.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use crm_core::{Role, UserId};
use crm_users::{CreateUser, ListUsers, UpdateUser, User, UserSort};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::body::Json;
use crate::envelope::{Data, List, created, list, ok_versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(delete_user);
}

/// The filters of `GET /api/users`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserFilters {
    /// Fragment of e-mail, first or last name (case-insensitive).
    pub q: Option<String>,
    /// Only users of this role.
    pub role: Option<Role>,
    /// Only active (`true`) or deactivated (`false`) users.
    pub is_active: Option<bool>,
}

impl ListFilters for UserFilters {
    const SPEC: ListSpec = ListSpec::sorted(
        "Comma list of `createdAt`, `email`, `firstName`, `lastName`, `lastLoginAt`; `-` \
         for descending. Default `createdAt`.",
    );
}

/// Lists users (`users.read`).
#[utoipa::path(get, path = "/users", tag = "users", params(ListQuery<UserFilters>), security(("bearer" = [])), responses(
    (status = 200, body = List<User>),
))]
#[get("/users")]
async fn list_users(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<UserFilters>,
) -> Result<HttpResponse, ApiError> {
    let input = ListUsers {
        sort: query.sort(UserSort::ALLOWED, UserSort::CreatedAt)?,
        page: query.list.page,
        q: query.filters.q,
        role: query.filters.role,
        is_active: query.filters.is_active,
    };
    let mut conn = state.conn().await?;
    Ok(list(
        crm_users::list_users(&mut conn, &actor.0, &input).await?,
    ))
}

/// Creates a user (`users.manage`).
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser, security(("bearer" = [])), responses(
    (status = 201, body = Data<User>, headers(("Location" = String), ("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "E-mail already in use"),
    (status = 503, body = Problem, content_type = "application/problem+json", description = "Too many password checks in progress (`server_busy`); see `Retry-After`"),
))]
#[post("/users")]
async fn create_user(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let new = crm_users::NewUser::prepare(&actor.0, &state.passwords, body.into_inner()).await?;
    let mut conn = state.conn().await?;
    let user = crm_users::create_user(&mut conn, &actor.0, new).await?;
    let (location, version) = (format!("/api/users/{}", user.id), user.version);
    Ok(created(location, user, Some(version)))
}

/// Reads a user (`users.read`, or one's own record).
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<User>, headers(("ETag" = String))),
))]
#[get("/users/{id}")]
async fn get_user(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let user = crm_users::get_user(&mut conn, &actor.0, *id).await?;
    let version = user.version;
    Ok(ok_versioned(user, version))
}

/// Changes a user (`users.manage`; anyone may change their own names). `isActive: false`
/// deactivates; a new `password` ends the user's sessions. `If-Match` guards against lost
/// updates (412).
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateUser, security(("bearer" = [])), responses(
    (status = 200, body = Data<User>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "Duplicate e-mail, or the last active admin"),
    (status = 503, body = Problem, content_type = "application/problem+json", description = "Too many password checks in progress (`server_busy`); see `Retry-After`"),
))]
#[patch("/users/{id}")]
async fn update_user(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<UserId>,
    if_match: IfMatch,
    body: Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let update =
        crm_users::UserUpdate::prepare(&actor.0, &state.passwords, *id, body.into_inner()).await?;
    let mut conn = state.conn().await?;
    let user = crm_users::update_user(&mut conn, &actor.0, update, if_match.0).await?;
    let version = user.version;
    Ok(ok_versioned(user, version))
}

/// Deletes a user (`users.manage`); never the last active admin.
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "The last active admin"),
))]
#[delete("/users/{id}")]
async fn delete_user(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<UserId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    crm_users::delete_user(&mut conn, &actor.0, *id, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
