//! Refresh tokens: one family per login, rotated on every use. Presenting a rotated token again
//! revokes the whole family (a stolen token was used), except within the grace window right after
//! its rotation, when two tabs refreshing at once each get a token of the family.

use chrono::{DateTime, TimeDelta, Utc};
use crm_core::UserId;
use crm_db::AsyncPgConnection;
use crm_db::schema::refresh_tokens;
use crm_users::User;
use crm_users::model::UserRow;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::jwt::issue_access_token;
use crate::secret::{hash_secret, random_secret};

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

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct RefreshTokenRow {
    user_id: Uuid,
    family_id: Uuid,
    session_epoch: i32,
    expires_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Stores a new refresh token of `family` (a new family when `None`) and signs an access token.
pub(crate) async fn issue_session(
    conn: &mut AsyncPgConnection,
    config: &AuthConfig,
    user: UserRow,
    family: Option<Uuid>,
) -> Result<Session, AuthError> {
    let refresh_token = random_secret()?;
    let expires_at =
        Utc::now() + TimeDelta::from_std(config.refresh_ttl).unwrap_or(TimeDelta::days(30));
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::user_id.eq(user.id),
            refresh_tokens::family_id.eq(family.unwrap_or_else(Uuid::now_v7)),
            refresh_tokens::session_epoch.eq(user.session_epoch),
            refresh_tokens::token_hash.eq(hash_secret(&refresh_token)),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    let access_token = issue_access_token(config, UserId(user.id), user.session_epoch)?;
    Ok(Session {
        access_token,
        expires_in: config.access_ttl.as_secs(),
        refresh_token,
        refresh_expires_at: expires_at,
        user: user.into(),
    })
}

async fn revoke_family(conn: &mut AsyncPgConnection, family: Uuid) -> Result<(), AuthError> {
    diesel::update(refresh_tokens::table.filter(refresh_tokens::family_id.eq(family)))
        .filter(refresh_tokens::revoked_at.is_null())
        .set(refresh_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user (password change, admin reset).
pub(crate) async fn revoke_all_of_user(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> Result<(), AuthError> {
    diesel::update(refresh_tokens::table.filter(refresh_tokens::user_id.eq(user)))
        .filter(refresh_tokens::revoked_at.is_null())
        .set(refresh_tokens::revoked_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    Ok(())
}

enum Outcome {
    Issued(Box<Session>),
    Reused,
    Invalid,
}

/// Exchanges a refresh token for a new session of the same family.
pub async fn refresh(
    conn: &mut AsyncPgConnection,
    config: &AuthConfig,
    presented: &str,
) -> Result<Session, AuthError> {
    let hash = hash_secret(presented);
    // The transaction commits a family revocation even though the caller gets an error.
    let outcome = conn
        .transaction(async |conn| {
            let Some(row) = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash))
                .select(RefreshTokenRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok::<_, AuthError>(Outcome::Invalid);
            };
            let now = Utc::now();
            if row.revoked_at.is_some() || row.expires_at <= now {
                return Ok(Outcome::Invalid);
            }
            if let Some(rotated_at) = row.rotated_at {
                let grace = TimeDelta::from_std(config.refresh_grace).unwrap_or(TimeDelta::zero());
                if grace.is_zero() || now - rotated_at > grace {
                    revoke_family(conn, row.family_id).await?;
                    return Ok(Outcome::Reused);
                }
            }
            let user = UserRow::find(conn, UserId(row.user_id)).await?;
            let Some(user) = user.filter(|u| u.is_active && u.session_epoch == row.session_epoch)
            else {
                revoke_family(conn, row.family_id).await?;
                return Ok(Outcome::Invalid);
            };
            if row.rotated_at.is_none() {
                diesel::update(refresh_tokens::table.filter(refresh_tokens::token_hash.eq(&hash)))
                    .set(refresh_tokens::rotated_at.eq(now))
                    .execute(conn)
                    .await?;
            }
            let session = issue_session(conn, config, user, Some(row.family_id)).await?;
            Ok(Outcome::Issued(Box::new(session)))
        })
        .await?;
    match outcome {
        Outcome::Issued(session) => Ok(*session),
        Outcome::Reused => {
            tracing::warn!("refresh token reuse detected; family revoked");
            Err(AuthError::RefreshTokenReused)
        }
        Outcome::Invalid => Err(AuthError::InvalidRefreshToken),
    }
}

/// Ends the login the refresh token belongs to (its whole family). Unknown tokens are ignored:
/// logging out always succeeds.
pub async fn logout(
    conn: &mut AsyncPgConnection,
    presented: Option<&str>,
) -> Result<(), AuthError> {
    let Some(presented) = presented else {
        return Ok(());
    };
    let family: Option<Uuid> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash_secret(presented)))
        .select(refresh_tokens::family_id)
        .first(conn)
        .await
        .optional()?;
    if let Some(family) = family {
        revoke_family(conn, family).await?;
    }
    Ok(())
}
