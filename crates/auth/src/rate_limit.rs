//! Failed-login limits, kept in the database so every server instance sees the same counts.
//!
//! An attempt is counted before its password is checked: [`begin_attempt`] checks the limits
//! and records the attempt in one transaction, serialised per e-mail and per IP by advisory
//! locks, so concurrent attempts cannot all pass the check. A successful login takes its
//! attempt back ([`forget_attempt`]): only failures count.

use chrono::{DateTime, TimeDelta, Utc};
use crm_db::AsyncPgConnection;
use crm_db::schema::login_failures;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::config::LoginLimits;
use crate::error::AuthError;

/// A counted login attempt, to be forgotten if it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(i64);

/// When the `limit`-th most recent failure matching `filter` leaves the window, a new attempt
/// is allowed again; `None` while fewer than `limit` failures are inside the window.
async fn blocked_until(
    conn: &mut AsyncPgConnection,
    column_is: login_failures::BoxedQuery<'_, diesel::pg::Pg>,
    limit: i64,
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, AuthError> {
    let nth: Option<DateTime<Utc>> = column_is
        .filter(login_failures::failed_at.gt(now - window))
        .select(login_failures::failed_at)
        .order(login_failures::failed_at.desc())
        .offset(limit.max(1) - 1)
        .limit(1)
        .first(conn)
        .await
        .optional()?;
    Ok(nth.map(|t| t + window))
}

/// Serialises attempts on one key until the end of the transaction. Every attempt takes the
/// e-mail lock before the IP lock, so two attempts never wait for each other in a cycle.
async fn lock(conn: &mut AsyncPgConnection, key: String) -> Result<(), AuthError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts an attempt for `email` from `ip`, or `RateLimited` (with the seconds until one is
/// allowed) when a limit is used up: per e-mail and IP together (tight), per e-mail from
/// anywhere (looser, so that a stranger alone cannot lock a user out) and per IP.
pub async fn begin_attempt(
    conn: &mut AsyncPgConnection,
    limits: &LoginLimits,
    email: &str,
    ip: &str,
) -> Result<Attempt, AuthError> {
    let window = TimeDelta::from_std(limits.window).unwrap_or(TimeDelta::MAX);
    conn.transaction(async |conn| {
        lock(conn, format!("crm.login.email:{email}")).await?;
        lock(conn, format!("crm.login.ip:{ip}")).await?;
        let now = Utc::now();
        let by_email_and_ip = login_failures::table
            .filter(login_failures::email.eq(email.to_owned()))
            .filter(login_failures::ip.eq(ip.to_owned()))
            .into_boxed();
        let by_email = login_failures::table
            .filter(login_failures::email.eq(email.to_owned()))
            .into_boxed();
        let by_ip = login_failures::table
            .filter(login_failures::ip.eq(ip.to_owned()))
            .into_boxed();
        let until = [
            blocked_until(conn, by_email_and_ip, limits.per_email_and_ip, window, now).await?,
            blocked_until(conn, by_email, limits.per_email, window, now).await?,
            blocked_until(conn, by_ip, limits.per_ip, window, now).await?,
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(until) = until.filter(|until| *until > now) {
            let ms = (until - now).num_milliseconds().max(0);
            let retry_after = u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1);
            return Err(AuthError::RateLimited { retry_after });
        }
        let id = diesel::insert_into(login_failures::table)
            .values((
                login_failures::email.eq(email),
                login_failures::ip.eq(ip),
                login_failures::failed_at.eq(now),
            ))
            .returning(login_failures::id)
            .get_result(conn)
            .await?;
        Ok(Attempt(id))
    })
    .await
}

/// Takes a successful attempt back: successes do not count towards the limits.
pub async fn forget_attempt(
    conn: &mut AsyncPgConnection,
    attempt: Attempt,
) -> Result<(), AuthError> {
    diesel::delete(login_failures::table.find(attempt.0))
        .execute(conn)
        .await?;
    Ok(())
}
