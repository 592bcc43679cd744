//! Signing in with e-mail and password, and changing one's own password.

use chrono::{DateTime, Utc};
use crm_core::{Actor, FieldError};
use crm_db::AsyncPgConnection;
use crm_db::schema::users;
use crm_users::model::UserRow;
use crm_users::{Passwords, User, normalize_email};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use garde::Validate;
use serde::Deserialize;

use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::rate_limit;
use crate::refresh::{issue_session, revoke_all_of_user};

/// `POST /api/auth/login` body.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    /// Login e-mail.
    #[garde(length(min = 1, max = 254))]
    #[schema(max_length = 254)]
    pub email: String,
    /// Password.
    #[garde(length(chars, min = 1, max = 256))]
    #[schema(max_length = 256, format = Password)]
    pub password: String,
}

/// `POST /api/auth/password` body.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePassword {
    /// The password in use now.
    #[garde(length(chars, min = 1, max = 256))]
    #[schema(max_length = 256, format = Password)]
    pub current_password: String,
    /// The new password.
    #[garde(length(chars, min = crm_users::password::MIN_PASSWORD_LEN, max = crm_users::password::MAX_PASSWORD_LEN))]
    #[schema(min_length = 8, max_length = 256, format = Password)]
    pub new_password: String,
}

/// A signed-in session: what login and refresh hand out.
#[derive(Debug, Clone)]
pub struct Session {
    /// The signed-in user.
    pub user: User,
    /// JWT access token.
    pub access_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// Opaque refresh token (the HTTP layer puts it in a cookie).
    pub refresh_token: String,
    /// When the refresh token expires.
    pub refresh_expires_at: DateTime<Utc>,
}

fn validate(input: &impl Validate<Context = ()>) -> Result<(), AuthError> {
    input
        .validate()
        .map_err(|r| AuthError::Invalid(FieldError::from_garde(&r)))
}

/// Signs in. Unknown e-mail and wrong password get the same error after the same work; failures
/// count towards the per-e-mail and per-IP limits, successes do not.
pub async fn login(
    conn: &mut AsyncPgConnection,
    config: &AuthConfig,
    passwords: &Passwords,
    input: &LoginRequest,
    ip: &str,
) -> Result<Session, AuthError> {
    validate(input)?;
    let email = normalize_email(&input.email);
    rate_limit::check(conn, &config.login_limits, &email, ip).await?;
    let row = UserRow::find_by_email(conn, &email).await?;
    let matched = passwords
        .verify(
            row.as_ref().map(|r| r.password_hash.as_str()),
            &input.password,
        )
        .await;
    let Some(mut row) = row.filter(|_| matched) else {
        rate_limit::record_failure(conn, &config.login_limits, &email, ip).await?;
        return Err(AuthError::InvalidCredentials);
    };
    if !row.is_active {
        return Err(AuthError::AccountDisabled);
    }
    conn.transaction(async |conn| {
        let now = Utc::now();
        diesel::update(users::table.find(row.id))
            .set(users::last_login_at.eq(now))
            .execute(conn)
            .await?;
        row.last_login_at = Some(now);
        issue_session(conn, config, row, None).await
    })
    .await
}

/// Changes the actor's own password after checking the current one; every other session of the
/// user ends, and a fresh session is returned for the caller.
pub async fn change_password(
    conn: &mut AsyncPgConnection,
    config: &AuthConfig,
    passwords: &Passwords,
    actor: &Actor,
    input: &ChangePassword,
) -> Result<Session, AuthError> {
    validate(input)?;
    let (Some(user_id), None) = (actor.user_id, actor.api_key_id) else {
        return Err(AuthError::Invalid(vec![FieldError::new(
            "currentPassword",
            "API keys have no password",
        )]));
    };
    let row = UserRow::find(conn, user_id)
        .await?
        .ok_or(AuthError::InvalidToken)?;
    if !passwords
        .verify(Some(&row.password_hash), &input.current_password)
        .await
    {
        return Err(AuthError::WrongPassword);
    }
    let hash = passwords.hash(&input.new_password).await?;
    conn.transaction(async |conn| {
        crm_users::set_password(conn, user_id, hash).await?;
        revoke_all_of_user(conn, user_id.0).await?;
        let row = UserRow::find(conn, user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        issue_session(conn, config, row, None).await
    })
    .await
}
