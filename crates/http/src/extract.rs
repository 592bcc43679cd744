//! Request extractors (the signed-in actor, `If-Match`, the client IP) and the error handlers
//! that turn malformed JSON, query strings and paths into problem+json.

use std::future::{Ready, ready};

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use crm_auth::AuthError;
use crm_core::Actor;
use futures_util::future::LocalBoxFuture;

use crate::problem::ApiError;
use crate::state::AppState;

/// The authenticated principal of the request (access token or API key), checked against
/// the database: a deactivated user or a revoked key is refused at once.
#[derive(Debug, Clone)]
pub struct AuthActor(pub Actor);

/// The actor the `authenticate` middleware found for the request.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub Actor);

/// The bearer credential of a request, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn app_state(req: &HttpRequest) -> Result<AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|s| s.get_ref().clone())
        .ok_or_else(|| ApiError::from_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR))
}

impl FromRequest for AuthActor {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Resolved by the `authenticate` middleware before any other input was looked at.
        if let Some(Authenticated(actor)) = req.extensions().get::<Authenticated>() {
            let actor = actor.clone();
            return Box::pin(async move { Ok(AuthActor(actor)) });
        }
        let token = bearer_token(req);
        let state = app_state(req);
        Box::pin(async move {
            let state = state?;
            let token = token.ok_or(AuthError::MissingToken)?;
            let mut conn = state.conn().await?;
            let actor = crm_auth::authenticate(&mut conn, &state.auth, &token).await?;
            Ok(AuthActor(actor))
        })
    }
}

/// The version named by `If-Match: "<version>"`, if the header is present. `*` matches any.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(header::IF_MATCH) else {
            return ready(Ok(IfMatch(None)));
        };
        let parsed = value.to_str().ok().map(str::trim).and_then(|v| {
            if v == "*" {
                return Some(None);
            }
            let v = v.strip_prefix("W/").unwrap_or(v);
            v.strip_prefix('"')?
                .strip_suffix('"')?
                .parse::<i32>()
                .ok()
                .map(Some)
        });
        ready(match parsed {
            Some(version) => Ok(IfMatch(version)),
            None => Err(ApiError::bad_request(
                "invalid_if_match",
                "If-Match must be an ETag of this API, e.g. \"3\"",
            )),
        })
    }
}

/// The client address used for login limits: the TCP peer, or the proxy-reported address when
/// `CRM_TRUST_PROXY` is set (otherwise a client could pick its own).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trust_proxy = app_state(req).map(|s| s.http.trust_proxy).unwrap_or(false);
        let peer = req.peer_addr().map(|a| a.ip());
        // Whatever the proxy header says must be an address: it keys the login limits and is
        // stored, so free text (or a huge value) falls back to the peer.
        let forwarded = trust_proxy
            .then(|| {
                req.connection_info()
                    .realip_remote_addr()
                    .and_then(parse_ip)
            })
            .flatten();
        let ip = forwarded.or(peer).map(|ip| ip.to_string());
        ready(Ok(ClientIp(ip.unwrap_or_else(|| "unknown".to_owned()))))
    }
}

fn parse_ip(addr: &str) -> Option<std::net::IpAddr> {
    addr.parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| addr.trim_matches(['[', ']']).parse())
        .ok()
}

/// Unknown, mistyped or malformed query parameters.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let detail = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::bad_request("invalid_query", detail).into()
}

/// Malformed path parameters such as an id that is not a UUID.
pub fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    // `GET /api/contacts/batch` reaches `GET /api/contacts/{id}` with "batch" as the id; the
    // path is the batch route's, which has no GET: 405, not a malformed id.
    if let Some(routes) = req.app_data::<web::Data<crate::openapi::RouteTable>>()
        && routes
            .needs_credential(req.method().as_str(), req.path())
            .is_none()
        && let Some(allow) = routes.allowed_methods(req.path())
    {
        return ApiError::method_not_allowed(allow).into();
    }
    let detail = match &err {
        PathError::Deserialize(e) => format!("invalid path parameter: {e}"),
        other => other.to_string(),
    };
    ApiError::bad_request("invalid_path", detail).into()
}
