//! Failed-login limits, kept in the database so every server instance sees the same counts.

use chrono::{DateTime, TimeDelta, Utc};
use crm_db::AsyncPgConnection;
use crm_db::schema::login_failures;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::config::LoginLimits;
use crate::error::AuthError;

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

/// `RateLimited` when `email` or `ip` has used up its failures inside the window.
pub async fn check(
    conn: &mut AsyncPgConnection,
    limits: &LoginLimits,
    email: &str,
    ip: &str,
) -> Result<(), AuthError> {
    let now = Utc::now();
    let window = TimeDelta::from_std(limits.window).unwrap_or(TimeDelta::MAX);
    let by_email = login_failures::table
        .filter(login_failures::email.eq(email.to_owned()))
        .into_boxed();
    let by_ip = login_failures::table
        .filter(login_failures::ip.eq(ip.to_owned()))
        .into_boxed();
    let until = [
        blocked_until(conn, by_email, limits.per_email, window, now).await?,
        blocked_until(conn, by_ip, limits.per_ip, window, now).await?,
    ]
    .into_iter()
    .flatten()
    .max();
    match until {
        Some(until) if until > now => {
            let ms = (until - now).num_milliseconds().max(0);
            let retry_after = u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1);
            Err(AuthError::RateLimited { retry_after })
        }
        _ => Ok(()),
    }
}

/// Records one failed login and forgets failures older than the window.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    limits: &LoginLimits,
    email: &str,
    ip: &str,
) -> Result<(), AuthError> {
    let window = TimeDelta::from_std(limits.window).unwrap_or(TimeDelta::MAX);
    diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(Utc::now() - window)))
        .execute(conn)
        .await?;
    diesel::insert_into(login_failures::table)
        .values((login_failures::email.eq(email), login_failures::ip.eq(ip)))
        .execute(conn)
        .await?;
    Ok(())
}
