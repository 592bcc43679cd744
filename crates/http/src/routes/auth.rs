//! `/api/auth`: login, refresh, logout, me, change own password.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use crm_auth::{ChangePassword, LoginRequest, Session};
use crm_users::User;
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::body::Json;
use crate::envelope::{Data, ok};
use crate::extract::{AuthActor, ClientIp};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "refresh_token";
const COOKIE_PATH: &str = "/api/auth";

/// What login, refresh and password change answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// The signed-in user with effective permissions.
    pub user: User,
}

/// `POST /api/auth/refresh` and `/logout` body for clients without cookies.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token (otherwise read from the `refresh_token` cookie).
    pub refresh_token: String,
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(me)
        .service(change_password);
}

fn session_response(state: &AppState, session: Session) -> HttpResponse {
    let cookie = Cookie::build(REFRESH_COOKIE, session.refresh_token)
        .http_only(true)
        .same_site(SameSite::Strict)
        .path(COOKIE_PATH)
        .secure(state.http.cookie_secure)
        .max_age(CookieDuration::seconds(
            i64::try_from(state.auth.refresh_ttl.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish();
    HttpResponse::Ok()
        .cookie(cookie)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Data {
            data: LoginResponse {
                access_token: session.access_token,
                token_type: "Bearer",
                expires_in: session.expires_in,
                user: session.user,
            },
        })
}

/// The refresh token from a JSON body `{"refreshToken"}` or, with an empty body, the cookie.
fn presented_refresh_token(req: &HttpRequest, body: &[u8]) -> Result<Option<String>, ApiError> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        if !crate::body::is_json(req) {
            return Err(ApiError::new(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let parsed: RefreshRequest = crate::body::parse_slice(body)?;
        return Ok(Some(parsed.refresh_token));
    }
    Ok(req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()))
}

/// Signs in; sets the `refresh_token` cookie (HttpOnly, SameSite=Strict, Path=/api/auth).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = Data<LoginResponse>, description = "Signed in; refresh token in the `refresh_token` cookie"),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "Unknown e-mail, wrong password or deactivated account"),
    (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many failed logins; see `Retry-After`"),
    (status = 503, body = Problem, content_type = "application/problem+json", description = "Too many password checks in progress (`server_busy`) or the database is unavailable; see `Retry-After`"),
))]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = crm_auth::login(&state.pool, &state.auth, &state.passwords, &body, &ip.0).await?;
    Ok(session_response(&state, session))
}

/// Exchanges the refresh token (cookie, or `{"refreshToken"}` body) for a new access token and
/// a rotated refresh token.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Optional; the cookie is used when the body is empty"), responses(
    (status = 200, body = Data<LoginResponse>),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "Missing, invalid, expired or reused refresh token"),
))]
#[post("/auth/refresh")]
async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let token =
        presented_refresh_token(&req, &body)?.ok_or(crm_auth::AuthError::InvalidRefreshToken)?;
    let mut conn = state.conn().await?;
    let session = crm_auth::refresh(&mut conn, &state.auth, &token).await?;
    Ok(session_response(&state, session))
}

/// Ends this login (its refresh-token family) and clears the cookie. Always 204.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body(content = Option<RefreshRequest>), responses(
    (status = 204, description = "Logged out"),
))]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let token = presented_refresh_token(&req, &body)?;
    let mut conn = state.conn().await?;
    crm_auth::logout(&mut conn, token.as_deref()).await?;
    let mut removal = Cookie::build(REFRESH_COOKIE, "")
        .http_only(true)
        .same_site(SameSite::Strict)
        .path(COOKIE_PATH)
        .secure(state.http.cookie_secure)
        .finish();
    removal.make_removal();
    Ok(HttpResponse::NoContent().cookie(removal).finish())
}

/// The signed-in user with effective permissions.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = Data<User>),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json", description = "API keys are not users"),
))]
#[get("/auth/me")]
async fn me(state: web::Data<AppState>, actor: AuthActor) -> Result<HttpResponse, ApiError> {
    let (Some(id), None) = (actor.0.user_id, actor.0.api_key_id) else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "not_a_user",
            "an API key has no user profile",
        ));
    };
    let mut conn = state.conn().await?;
    let user = crm_users::get_user(&mut conn, &actor.0, id).await?;
    Ok(ok(user))
}

/// Changes the caller's password. Every session of the user ends; the answer carries a fresh
/// one (new access token and cookie).
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = ChangePassword, security(("bearer" = [])), responses(
    (status = 200, body = Data<LoginResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "Invalid new password or wrong current password"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many wrong passwords; see `Retry-After`"),
    (status = 503, body = Problem, content_type = "application/problem+json", description = "Too many password checks in progress (`server_busy`); see `Retry-After`"),
))]
#[post("/auth/password")]
async fn change_password(
    state: web::Data<AppState>,
    actor: AuthActor,
    ip: ClientIp,
    body: Json<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let session = crm_auth::change_password(
        &state.pool,
        &state.auth,
        &state.passwords,
        &actor.0,
        &body,
        &ip.0,
    )
    .await?;
    Ok(session_response(&state, session))
}
