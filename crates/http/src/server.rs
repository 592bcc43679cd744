//! Assembling the actix application: middleware, routes, docs, fallbacks.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Protocol, error::DispatchError};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, web};
use tokio::net::TcpStream;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::extract::{path_error, query_error};
use crate::head_guard::{GuardedStream, HeadLimits};
use crate::idempotency::idempotency;
use crate::middleware::{authenticate, problem_for_plain_errors, reject_nul, request_context};
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
    /// Largest accepted file upload, in bytes.
    pub max_upload_bytes: u64,
    /// Largest accepted import file, in bytes.
    pub max_import_bytes: u64,
    /// Take the client IP from `Forwarded`/`X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy: bool,
    /// Worker threads; `None` = one per core.
    pub workers: Option<usize>,
    /// Limits on request heads (see [`GuardedStream`]).
    pub head_limits: HeadLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            cookie_secure: true,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 50 * 1024 * 1024,
            max_import_bytes: 200 * 1024 * 1024,
            trust_proxy: false,
            workers: None,
            head_limits: HeadLimits::default(),
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
    let mut api = api;
    crate::openapi_complete::complete(&mut api);
    api
}

/// Builds the server on an already-bound listener (port 0 in tests). It stops gracefully on
/// SIGTERM/SIGINT: no new connections, running requests finish.
///
/// Assembled from actix-server and actix-http rather than `HttpServer`, so that every accepted
/// stream goes through the [`GuardedStream`] first: request heads that are too slow, too large
/// or malformed are answered with problem+json like everything else.
pub fn build_server(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let mut api = openapi();
    crate::routes::files::state_upload_limit(&mut api, state.http.max_upload_bytes);
    let routes = web::Data::new(RouteTable::from_openapi(&api));
    let api = Arc::new(api);
    let workers = state.http.workers;
    let head_limits = state.http.head_limits;
    let data = web::Data::new(state);
    let app = move || {
        App::new()
            .app_data(data.clone())
            .app_data(routes.clone())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::PayloadConfig::default().limit(data.http.max_body_bytes))
            .wrap(from_fn(idempotency))
            .wrap(from_fn(reject_nul))
            .wrap(from_fn(authenticate))
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
    };
    let addr = listener.local_addr()?;
    let mut builder = actix_server::Server::build().shutdown_timeout(10);
    if let Some(workers) = workers {
        builder = builder.workers(workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder.listen("crm-http", listener, move || {
        let shutdown = shutdown.clone();
        let http = HttpService::build()
            // Idle keep-alive connections close at once when shutting down.
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .keep_alive(KeepAlive::default())
            // The guard times request heads out itself, with a problem+json answer.
            .client_request_timeout(Duration::ZERO)
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1_allow_half_closed(true)
            .local_addr(addr)
            .finish(map_config(
                app()
                    .into_factory()
                    .map_err(|err: actix_web::Error| err.error_response()),
                |_| AppConfig::default(),
            ));
        fn_service(move |io: TcpStream| async move {
            let _ = io.set_nodelay(true);
            let peer = io.peer_addr().ok();
            Ok::<_, DispatchError>((GuardedStream::new(io, head_limits), Protocol::Http1, peer))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}
