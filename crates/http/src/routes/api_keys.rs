//! `/api/api-keys`: keys for other services.

use actix_web::{HttpResponse, delete, get, post, web};
use crm_auth::{ApiKey, CreateApiKey, CreatedApiKey};
use crm_core::ApiKeyId;
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::body::Json;
use crate::envelope::{Data, List, created, list};
use crate::extract::AuthActor;
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::ApiError;
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_api_keys)
        .service(create_api_key)
        .service(revoke_api_key);
}

/// `GET /api/api-keys` has no filters of its own.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyFilters {}

impl ListFilters for ApiKeyFilters {
    const SPEC: ListSpec = ListSpec::PAGED;
}

/// Lists API keys, newest first (`users.manage`). Secrets are never shown again.
#[utoipa::path(get, path = "/api-keys", tag = "api-keys", params(ListQuery<ApiKeyFilters>), security(("bearer" = [])), responses(
    (status = 200, body = List<ApiKey>),
))]
#[get("/api-keys")]
async fn list_api_keys(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<ApiKeyFilters>,
) -> Result<HttpResponse, ApiError> {
    let page = query.list.page;
    let mut conn = state.conn().await?;
    Ok(list(
        crm_auth::list_api_keys(&mut conn, &actor.0, page).await?,
    ))
}

/// Creates an API key (`users.manage`). The `key` is in this answer only.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = CreateApiKey, security(("bearer" = [])), responses(
    (status = 201, body = Data<CreatedApiKey>, headers(("Location" = String))),
))]
#[post("/api-keys")]
async fn create_api_key(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let key = crm_auth::create_api_key(&mut conn, &actor.0, body.into_inner()).await?;
    Ok(created(
        format!("/api/api-keys/{}", key.api_key.id),
        key,
        None,
    ))
}

/// Revokes an API key (`users.manage`): refused from the next request on.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "Revoked"),
))]
#[delete("/api-keys/{id}")]
async fn revoke_api_key(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<ApiKeyId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    crm_auth::revoke_api_key(&mut conn, &actor.0, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
