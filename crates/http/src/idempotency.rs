//! `Idempotency-Key` on POST: the first response (status, body, `Location`/`ETag`) is stored for
//! 24 hours and replayed for a repeat with the same body; the same key with another body is 422,
//! and a repeat while the first is still running is 409. Keys are scoped to the caller.
//! Multipart uploads are streamed and not covered.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use chrono::{TimeDelta, Utc};
use crm_db::schema::idempotency_keys as ik;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::extract::bearer_token;
use crate::problem::ApiError;
use crate::state::AppState;

/// Request header naming the key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Response header set on replays.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// How long a stored response is replayed.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

#[derive(Serialize, Deserialize)]
struct Stored {
    headers: Vec<(String, String)>,
    body: String,
}

const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

fn respond(req: ServiceRequest, res: HttpResponse) -> ServiceResponse<BoxBody> {
    req.into_response(res)
}

/// The middleware. Requests without the header, other methods and `/api/auth/*` pass through.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Uploads are streamed, never buffered to be hashed: the key does not apply to them.
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        });
    let applies =
        req.method() == Method::POST && !req.path().starts_with("/api/auth/") && !multipart;
    let Some(raw_key) = req
        .headers()
        .get(IDEMPOTENCY_KEY)
        .filter(|_| applies)
        .cloned()
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(key) = raw_key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .map(str::to_owned)
    else {
        let err = ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1–255 visible characters",
        );
        return Ok(respond(req, err.error_response()));
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Unauthenticated requests are answered 401 by the handler; nothing to store.
    let Some(principal) =
        bearer_token(req.request()).and_then(|t| crm_auth::principal_of(&state.auth, &t))
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) => body,
        Err(e) => return Ok(respond(req, e.error_response())),
    };
    let mut hasher = Sha256::new();
    hasher.update(req.path().as_bytes());
    hasher.update([0]);
    hasher.update(req.query_string().as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    let hash = hasher.finalize().to_vec();
    req.set_payload(actix_web::dev::Payload::from(body));

    let mut conn = match state.conn().await {
        Ok(conn) => conn,
        Err(e) => return Ok(respond(req, e.error_response())),
    };
    let claimed = claim(&mut conn, &principal, &key, &hash).await;
    match claimed {
        Err(e) => Ok(respond(
            req,
            ApiError::from(crm_db::DbError::Query(e)).error_response(),
        )),
        Ok(Claim::Replay(status, stored)) => {
            let mut res =
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
            for (name, value) in stored.headers {
                res.insert_header((name, value));
            }
            res.insert_header((REPLAYED, HeaderValue::from_static("true")));
            Ok(respond(req, res.body(stored.body)))
        }
        Ok(Claim::OtherBody) => {
            let err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request body",
            );
            Ok(respond(req, err.error_response()))
        }
        Ok(Claim::InProgress) => {
            let err = ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_request_in_progress",
                "a request with this Idempotency-Key is still running",
            );
            Ok(respond(req, err.error_response()))
        }
        Ok(Claim::Mine) => {
            drop(conn);
            let res = next.call(req).await?;
            let status = res.status();
            let (req, res) = res.into_parts();
            let (head, body) = res.into_parts();
            let Ok(bytes) = actix_web::body::to_bytes(body).await else {
                // Nothing to replay: the claim goes, so a retry runs the request again rather
                // than replaying an empty answer.
                if let Err(e) = settle(&state, &principal, &key, None).await {
                    tracing::warn!(error = %e, "idempotency key not released");
                }
                let err = ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the response could not be produced",
                );
                return Ok(ServiceResponse::new(req, err.error_response()));
            };
            // A server error may be retried, and a credential that did not authenticate
            // (anything shaped like an API key gets this far) leaves no row behind: strangers
            // must not be able to fill the table.
            let keep = !(status.is_server_error() || status == StatusCode::UNAUTHORIZED);
            let stored = keep.then(|| {
                let headers = KEPT_HEADERS
                    .iter()
                    .filter_map(|h| {
                        let v = head.headers().get(h)?.to_str().ok()?;
                        Some((h.as_str().to_owned(), v.to_owned()))
                    })
                    .collect();
                let body = String::from_utf8_lossy(&bytes).into_owned();
                (status, Stored { headers, body })
            });
            // The request's own work is committed: failing to store its answer must not turn it
            // into an error. The claim then stays "in progress" until it expires.
            if let Err(e) = settle(&state, &principal, &key, stored).await {
                tracing::warn!(error = %e, "idempotent response not stored");
            }
            let res = head.set_body(bytes).map_into_boxed_body();
            Ok(ServiceResponse::new(req, res))
        }
    }
}

/// Stores the answer of a claimed key, or (`None`) releases the claim.
async fn settle(
    state: &AppState,
    principal: &str,
    key: &str,
    answer: Option<(StatusCode, Stored)>,
) -> Result<(), ApiError> {
    let mut conn = state.conn().await?;
    let row = ik::table
        .filter(ik::principal.eq(principal))
        .filter(ik::key.eq(key));
    let done = match answer {
        None => diesel::delete(row).execute(&mut conn).await,
        Some((status, stored)) => {
            let response = serde_json::to_value(&stored).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    format!("stored response: {e}"),
                )
            })?;
            diesel::update(row)
                .set((
                    ik::status.eq(i16::try_from(status.as_u16()).unwrap_or(i16::MAX)),
                    ik::response.eq(Some(response)),
                ))
                .execute(&mut conn)
                .await
        }
    };
    done.map(drop)
        .map_err(|e| ApiError::from(crm_db::DbError::Query(e)))
}

enum Claim {
    Mine,
    Replay(u16, Stored),
    OtherBody,
    InProgress,
}

async fn claim(
    conn: &mut crm_db::AsyncPgConnection,
    principal: &str,
    key: &str,
    hash: &[u8],
) -> QueryResult<Claim> {
    let row = ik::table
        .filter(ik::principal.eq(principal))
        .filter(ik::key.eq(key));
    // An expired entry is as good as none.
    diesel::delete(row.filter(ik::created_at.lt(Utc::now() - RETENTION)))
        .execute(conn)
        .await?;
    let inserted = diesel::insert_into(ik::table)
        .values((
            ik::principal.eq(principal),
            ik::key.eq(key),
            ik::request_hash.eq(hash),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Mine);
    }
    let (stored_hash, status, response): (Vec<u8>, Option<i16>, Option<serde_json::Value>) = row
        .select((ik::request_hash, ik::status, ik::response))
        .first(conn)
        .await?;
    if stored_hash != hash {
        return Ok(Claim::OtherBody);
    }
    match (
        status,
        response.and_then(|r| serde_json::from_value::<Stored>(r).ok()),
    ) {
        (Some(status), Some(stored)) => {
            Ok(Claim::Replay(u16::try_from(status).unwrap_or(200), stored))
        }
        _ => Ok(Claim::InProgress),
    }
}

/// Forgets stored responses older than the retention; for the maintenance job.
pub async fn purge_expired(conn: &mut crm_db::AsyncPgConnection) -> QueryResult<usize> {
    diesel::delete(ik::table.filter(ik::created_at.lt(Utc::now() - RETENTION)))
        .execute(conn)
        .await
}
