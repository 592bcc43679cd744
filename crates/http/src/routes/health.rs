//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use crm_db::DbError;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::envelope::{Data, ok};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Health report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (alive) or `ready` (database reachable).
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health).service(ready);
}

/// The process is up and serving.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Data<Health>)))]
#[get("/health")]
async fn health() -> HttpResponse {
    ok(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The database answers; 503 while it does not (the server recovers by itself).
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, body = Data<Health>),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    diesel::sql_query("SELECT 1")
        .execute(&mut conn)
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    Ok(ok(Health {
        status: "ready",
        version: env!("CARGO_PKG_VERSION"),
    }))
}
