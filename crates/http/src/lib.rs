//! The HTTP API over the domain crates: routes per domain, extractors (actor, `If-Match`,
//! client IP), the problem+json error mapping (the one place where domain errors become
//! status codes), the `{data, meta}` envelope, middleware (request ids, access log, security
//! headers), the OpenAPI document with Swagger UI, and the WebSocket gateway.
//!
//! Handlers stay thin: parse, call one service, shape the answer. Rules live in the services.

pub mod batch;
pub mod body;
pub mod envelope;
pub mod extract;
pub mod head_guard;
pub mod idempotency;
pub mod list_query;
pub mod middleware;
pub mod multipart;
pub mod openapi;
pub mod openapi_complete;
pub mod problem;
pub mod routes;
pub mod server;
pub mod state;
pub mod trash;
pub mod visibility;
pub mod websocket;

pub use problem::ApiError;
pub use server::{HttpSettings, build_server};
pub use state::{AppState, Exports};
pub use visibility::RecordRooms;
