//! Assembling the actix application: middleware, routes, docs, fallbacks.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::extract::{json_error, path_error, query_error};
use crate::idempotency::idempotency;
use crate::middleware::{problem_for_plain_errors, reject_nul, request_context};
use crate::openapi::{ApiDoc, RouteTable};
use crate::problem::ApiError;
use crate::state::AppState;

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Origins allowed by CORS (exact matches; empty: same-origin only).
    pub cors_origins: Vec<String>,
    /// Whether the refresh cookie carries `Secure`.
    pub cookie_secure: bool,
    /// Largest accepted JSON body, in bytes.
    pub max_body_bytes: usize,
    /// Take the client IP from `Forwarded`/`X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy: bool,
    /// Worker threads; `None` = one per core.
    pub workers: Option<usize>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            cookie_secure: true,
            max_body_bytes: 1024 * 1024,
            trust_proxy: false,
            workers: None,
        }
    }
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            "authorization",
            "content-type",
            "if-match",
            "idempotency-key",
            "x-request-id",
        ])
        .expose_headers(["etag", "location", "x-request-id", "retry-after"])
        .supports_credentials()
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match routes.allowed_methods(req.path()) {
        Some(allow) => ApiError::method_not_allowed(allow),
        None => ApiError::route_not_found(),
    })
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/api/docs/"))
        .finish()
}

/// The complete OpenAPI document, as served at `/api/docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(utoipa_actix_web::scope("/api").configure(crate::routes::configure))
        .service(crate::websocket::websocket)
        .split_for_parts();
    api
}

/// Builds the server on an already-bound listener (port 0 in tests). It stops gracefully on
/// SIGTERM/SIGINT: no new connections, running requests finish.
pub fn build_server(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let api = openapi();
    let routes = web::Data::new(RouteTable::from_openapi(&api));
    let api = Arc::new(api);
    let workers = state.http.workers;
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let json = web::JsonConfig::default()
            .limit(data.http.max_body_bytes)
            .error_handler(json_error);
        App::new()
            .app_data(data.clone())
            .app_data(routes.clone())
            .app_data(json)
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::PayloadConfig::default().limit(data.http.max_body_bytes))
            .wrap(from_fn(idempotency))
            .wrap(from_fn(reject_nul))
            .wrap(ErrorHandlers::new().default_handler(problem_for_plain_errors))
            .wrap(cors(&data.http.cors_origins))
            .wrap(from_fn(request_context))
            .route("/api/docs", web::get().to(docs_redirect))
            .service(
                SwaggerUi::new("/api/docs/{_:.*}").url("/api/docs/openapi.json", (*api).clone()),
            )
            .service(web::scope("/api").configure(|cfg| {
                let mut cfg = utoipa_actix_web::service_config::ServiceConfig::new(cfg);
                crate::routes::configure(&mut cfg);
            }))
            .service(crate::websocket::websocket)
            .default_service(web::to(fallback))
    })
    .shutdown_timeout(10)
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}
