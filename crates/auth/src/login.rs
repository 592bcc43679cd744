//! Signing in with e-mail and password, and changing one's own password.

use chrono::Utc;
use crm_core::{Actor, FieldError};
use crm_db::DbPool;
use crm_db::pool::get_conn;
use crm_db::schema::users;
use crm_users::model::UserRow;
use crm_users::{Passwords, normalize_email};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use garde::Validate;
use serde::Deserialize;

use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::rate_limit;
use crate::refresh::{Session, issue_session, revoke_all_of_user};

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

fn validate(input: &impl Validate<Context = ()>) -> Result<(), AuthError> {
    input
        .validate()
        .map_err(|r| AuthError::Invalid(FieldError::from_garde(&r)))
}

/// Signs in. Unknown e-mail and wrong password get the same error after the same work. The
/// attempt is counted towards the limits before the password is checked and taken back when it
/// succeeds. No database connection is held while the password is checked: a flood of logins
/// waits for the hashing threads (or is refused at once when their queue is full) without
/// starving the rest of the API of connections.
pub async fn login(
    pool: &DbPool,
    config: &AuthConfig,
    passwords: &Passwords,
    input: &LoginRequest,
    ip: &str,
) -> Result<Session, AuthError> {
    validate(input)?;
    let email = normalize_email(&input.email);
    let slot = passwords.reserve()?;
    let (attempt, row) = {
        let mut conn = get_conn(pool).await?;
        let attempt =
            rate_limit::begin_attempt(&mut conn, &config.login_limits, &email, ip).await?;
        (attempt, UserRow::find_by_email(&mut conn, &email).await?)
    };
    let matched = slot
        .verify(
            row.as_ref().map(|r| r.password_hash.as_str()),
            &input.password,
        )
        .await;
    let Some(mut row) = row.filter(|_| matched) else {
        return Err(AuthError::InvalidCredentials);
    };
    let mut conn = get_conn(pool).await?;
    rate_limit::forget_attempt(&mut conn, attempt).await?;
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
/// user ends, and a fresh session is returned for the caller. A wrong current password counts
/// as a failed login of the user's e-mail from `ip` (a stolen access token must not allow
/// unlimited guessing); as with login, no connection is held while hashing.
pub async fn change_password(
    pool: &DbPool,
    config: &AuthConfig,
    passwords: &Passwords,
    actor: &Actor,
    input: &ChangePassword,
    ip: &str,
) -> Result<Session, AuthError> {
    validate(input)?;
    let (Some(user_id), None) = (actor.user_id, actor.api_key_id) else {
        return Err(AuthError::Invalid(vec![FieldError::new(
            "currentPassword",
            "API keys have no password",
        )]));
    };
    // Both places at once: a full queue must not refuse the second after the first counted.
    let (check, rehash) = (passwords.reserve()?, passwords.reserve()?);
    let (attempt, row) = {
        let mut conn = get_conn(pool).await?;
        let row = UserRow::find(&mut conn, user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let attempt =
            rate_limit::begin_attempt(&mut conn, &config.login_limits, &row.email, ip).await?;
        (attempt, row)
    };
    if !check
        .verify(Some(&row.password_hash), &input.current_password)
        .await
    {
        return Err(AuthError::WrongPassword);
    }
    let hash = rehash.hash(&input.new_password).await?;
    let mut conn = get_conn(pool).await?;
    conn.transaction(async |conn| {
        rate_limit::forget_attempt(conn, attempt).await?;
        crm_users::set_password(conn, user_id, hash).await?;
        revoke_all_of_user(conn, user_id.0).await?;
        let row = UserRow::find(conn, user_id)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        issue_session(conn, config, row, None).await
    })
    .await
}
