//! Background housekeeping, every hour while serving: expired idempotency records and old
//! failed-login rows are forgotten. Each step is idempotent, so several instances may run it.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crm_db::DbPool;
use crm_db::pool::get_conn;
use crm_db::schema::login_failures;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// How often the housekeeping runs.
const EVERY: Duration = Duration::from_secs(3600);

/// Runs forever; spawn it.
pub async fn run(pool: DbPool, login_window: Duration) {
    let mut ticker = tokio::time::interval(EVERY);
    loop {
        ticker.tick().await;
        if let Err(e) = once(&pool, login_window).await {
            tracing::warn!(error = %e, "housekeeping failed; will retry");
        }
    }
}

async fn once(pool: &DbPool, login_window: Duration) -> Result<(), crm_db::DbError> {
    let mut conn = get_conn(pool).await?;
    let idempotency = crm_http::idempotency::purge_expired(&mut conn).await?;
    let window = TimeDelta::from_std(login_window).unwrap_or(TimeDelta::days(1));
    let failures = diesel::delete(
        login_failures::table.filter(login_failures::failed_at.lt(Utc::now() - window)),
    )
    .execute(&mut conn)
    .await?;
    tracing::debug!(idempotency, failures, "housekeeping done");
    Ok(())
}
