//! Request ids, the access log, security headers, and the rewriting of any error response
//! that is not problem+json yet (raised by actix itself) into one.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, ResponseError};
use tracing::Instrument;

use crate::problem::{ApiError, PROBLEM_JSON};

/// Header carrying the request id, echoed on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, in the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?.trim();
    // Accept only short printable ids: they end up in logs.
    (!v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| v.to_owned())
}

/// Gives every request an id (the client's `X-Request-Id` or a new UUID), runs it inside a
/// span carrying that id so every log line has it, logs one line per request, and adds the id
/// and the security headers to the response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let is_docs = path.starts_with("/api/docs");
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let mut res = result?;
    let status = res.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, duration_ms, "request finished");
        } else {
            tracing::info!(status, duration_ms, "request finished");
        }
    });
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !is_docs {
        // JSON needs no scripts or frames; Swagger UI (under /api/docs) needs its own assets;
        // a download sets a stricter policy of its own.
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            );
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    Ok(res)
}

/// Rewrites an error response that is not problem+json (404 and 405 from the router, actix's
/// own extractor errors) into problem+json with the same status.
pub fn problem_for_plain_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let allow = res.headers().get(header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut new = ApiError::from_status(status).error_response();
    if let Some(allow) = allow {
        new.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body::<B>(),
    ))
}

/// Whether a JSON text holds a `\u0000` escape (a NUL character, which PostgreSQL text cannot
/// store). An escape counts only when its backslash is not itself escaped.
fn json_has_nul_escape(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(i, w)| {
        if w != b"\\u0000" {
            return false;
        }
        let backslashes_before = body[..i].iter().rev().take_while(|b| **b == b'\\').count();
        backslashes_before % 2 == 0
    })
}

/// Longest query string: every list parameter fits many times over, and no filter value can
/// grow into seconds of database work.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// Refuses over-long query strings (414) and NUL characters in query strings and JSON bodies
/// (400) before they reach a handler: PostgreSQL cannot store NULs, so they would otherwise
/// fail deep in a query.
pub async fn reject_nul(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if req.query_string().len() > MAX_QUERY_BYTES {
        let err = ApiError::new(
            actix_web::http::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the query string is longer than {MAX_QUERY_BYTES} bytes"),
        );
        return Ok(req.into_response(err.error_response()));
    }
    let query_has_nul = req.query_string().to_ascii_lowercase().contains("%00");
    if query_has_nul {
        let err =
            ApiError::bad_request("invalid_query", "the query string contains a NUL character");
        return Ok(req.into_response(err.error_response()));
    }
    if crate::body::is_json(req.request()) {
        let body = match req.extract::<actix_web::web::Bytes>().await {
            Ok(body) => body,
            Err(e) => return Ok(req.into_response(e.error_response())),
        };
        if json_has_nul_escape(&body) {
            let err = ApiError::bad_request(
                "invalid_body",
                "text fields must not contain NUL characters (\\u0000)",
            );
            return Ok(req.into_response(err.error_response()));
        }
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Authenticates a request to an operation that needs a credential (as the OpenAPI document
/// says) before anything else of it is looked at: without a valid credential the answer is 401,
/// whatever else is wrong with the request, and no input is parsed, no idempotency key stored.
/// The actor is kept for the handler's `AuthActor`. Only under `/api`.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    // The WebSocket gateway (outside /api) also takes `?token=` and authenticates itself.
    let needs = req.path().starts_with("/api/")
        && req
            .app_data::<actix_web::web::Data<crate::openapi::RouteTable>>()
            .and_then(|routes| routes.needs_credential(req.method().as_str(), req.path()))
            .unwrap_or(false);
    if needs {
        let resolved = resolve_actor(&req).await;
        match resolved {
            Ok(actor) => {
                req.extensions_mut()
                    .insert(crate::extract::Authenticated(actor));
            }
            Err(e) => return Ok(req.into_response(e.error_response())),
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

async fn resolve_actor(req: &ServiceRequest) -> Result<crm_core::Actor, ApiError> {
    let token =
        crate::extract::bearer_token(req.request()).ok_or(crm_auth::AuthError::MissingToken)?;
    let state = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .ok_or_else(|| ApiError::from_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR))?;
    let mut conn = state.conn().await?;
    Ok(crm_auth::authenticate(&mut conn, &state.auth, &token).await?)
}

#[cfg(test)]
mod tests {
    use super::json_has_nul_escape;

    #[test]
    fn only_real_nul_escapes_are_found() {
        assert!(json_has_nul_escape(br#"{"a": "x\u0000y"}"#));
        assert!(json_has_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!json_has_nul_escape(br#"{"a": "\\u0000"}"#));
        assert!(!json_has_nul_escape(br#"{"a": "u0000"}"#));
        assert!(!json_has_nul_escape(b""));
    }
}
