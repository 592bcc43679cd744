//! Background housekeeping, every hour while serving: the trash is purged of records deleted
//! more than the retention ago, expired idempotency records and old failed-login rows are
//! forgotten. Each step is idempotent, so several instances may run it.

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
pub async fn run(pool: DbPool, login_window: Duration, trash_retention: Duration) {
    let mut ticker = tokio::time::interval(EVERY);
    loop {
        ticker.tick().await;
        if let Err(e) = once(&pool, login_window, trash_retention).await {
            tracing::warn!(error = %e, "housekeeping failed; will retry");
        }
    }
}

/// Deletes for good what was trashed before `older_than`: tasks, deals, contacts, companies.
pub async fn purge_trash(
    conn: &mut crm_db::AsyncPgConnection,
    older_than: chrono::DateTime<Utc>,
) -> Result<usize, String> {
    let tasks = crm_tasks::service::purge_trash(conn, older_than)
        .await
        .map_err(|e| e.to_string())?;
    let deals = crm_deals::service::purge_trash(conn, older_than)
        .await
        .map_err(|e| e.to_string())?;
    let contacts = crm_contacts::service::purge_trash(conn, older_than)
        .await
        .map_err(|e| e.to_string())?;
    let companies = crm_companies::service::purge_trash(conn, older_than)
        .await
        .map_err(|e| e.to_string())?;
    Ok(tasks + deals + contacts + companies)
}

async fn once(
    pool: &DbPool,
    login_window: Duration,
    trash_retention: Duration,
) -> Result<(), String> {
    let mut conn = get_conn(pool).await.map_err(|e| e.to_string())?;
    let retention = TimeDelta::from_std(trash_retention).unwrap_or(TimeDelta::days(30));
    let purged = purge_trash(&mut conn, Utc::now() - retention).await?;
    let idempotency = crm_http::idempotency::purge_expired(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let window = TimeDelta::from_std(login_window).unwrap_or(TimeDelta::days(1));
    let failures = diesel::delete(
        login_failures::table.filter(login_failures::failed_at.lt(Utc::now() - window)),
    )
    .execute(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!(purged, idempotency, failures, "housekeeping done");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_db::schema::{companies, contacts};

    #[tokio::test]
    async fn the_trash_is_purged_only_of_records_deleted_before_the_cutoff() {
        let db = crm_testkit::TestDb::new().await;
        let mut conn = db.conn().await;
        let old = Utc::now() - TimeDelta::days(40);
        let recent = Utc::now() - TimeDelta::days(1);
        for (name, deleted) in [
            ("old", Some(old)),
            ("recent", Some(recent)),
            ("alive", None),
        ] {
            diesel::insert_into(companies::table)
                .values((
                    companies::id.eq(uuid::Uuid::now_v7()),
                    companies::name.eq(name),
                    companies::deleted_at.eq(deleted),
                ))
                .execute(&mut conn)
                .await
                .unwrap();
            diesel::insert_into(contacts::table)
                .values((
                    contacts::id.eq(uuid::Uuid::now_v7()),
                    contacts::full_name.eq(name),
                    contacts::deleted_at.eq(deleted),
                ))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let purged = purge_trash(&mut conn, Utc::now() - TimeDelta::days(30))
            .await
            .unwrap();
        assert_eq!(purged, 2);
        let left: Vec<String> = companies::table
            .select(companies::name)
            .order(companies::name)
            .load(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, ["alive", "recent"]);
        let contacts_left: i64 = contacts::table.count().get_result(&mut conn).await.unwrap();
        assert_eq!(contacts_left, 2);
    }
}
