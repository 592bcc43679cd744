//! Every background job of a server instance, in one place: task reminders (every few
//! seconds), outbox and reminder retention (hourly by default, first at start), and
//! housekeeping every hour (first an hour after start) —
//! the trash purged of records deleted more than the retention ago, expired idempotency
//! records and old failed-login rows forgotten, stored file objects that no row names removed. Each job is idempotent, so several instances
//! may run them side by side; a failed run is logged and retried on the next tick.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crm_db::DbPool;
use crm_db::pool::get_conn;
use crm_db::schema::login_failures;
use crm_realtime::RealtimeSettings;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// How often each job runs, and what it keeps.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Due tasks are looked for this often (`task.due` / `task.reminder`).
    pub reminders: Duration,
    /// Events older than `outbox_retention` (and fired reminders) are pruned this often.
    pub prune: Duration,
    /// How long events stay in the outbox.
    pub outbox_retention: Duration,
    /// Trash, idempotency records and login failures are cleaned this often.
    pub housekeeping: Duration,
    /// Failed logins older than this are forgotten.
    pub login_window: Duration,
    /// Trashed records older than this are deleted for good.
    pub trash_retention: Duration,
    /// How durable jobs are claimed and kept alive.
    pub jobs: crm_jobs::RunnerSettings,
}

impl Schedule {
    /// The schedule of a server with these realtime settings, login window and trash
    /// retention; housekeeping hourly.
    pub fn new(
        realtime: &RealtimeSettings,
        login_window: Duration,
        trash_retention: Duration,
    ) -> Self {
        Self {
            reminders: realtime.reminder_interval,
            prune: realtime.prune_interval,
            outbox_retention: realtime.retention,
            housekeeping: Duration::from_secs(3600),
            login_window,
            trash_retention,
            jobs: crm_jobs::RunnerSettings::default(),
        }
    }
}

/// Objects younger than this are never swept: their upload may be about to commit its row.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Runs every job on its schedule until the runtime ends; spawn it.
pub async fn run(pool: DbPool, storage: crm_files::Storage, schedule: Schedule) {
    // Durable jobs (imports) run beside the periodic ones, on every instance.
    let imports = crm_imports::ImportJobs::new(
        crm_imports::import_storage(&storage),
        std::env::temp_dir().join("crm-imports"),
    );
    let handlers: Vec<std::sync::Arc<dyn crm_jobs::Handler>> = vec![std::sync::Arc::new(imports)];
    tokio::spawn(crm_jobs::Runner::new(pool.clone(), handlers, schedule.jobs.clone()).run());
    let every = |period: Duration| {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    };
    let (mut reminders, mut prune) = (every(schedule.reminders), every(schedule.prune));
    // Housekeeping first runs one period after start: a restart loop never turns into a
    // purge loop.
    let mut housekeeping = every(schedule.housekeeping);
    housekeeping.reset();
    loop {
        let job = tokio::select! {
            _ = reminders.tick() => fire_reminders(&pool).await,
            _ = prune.tick() => prune_outbox(&pool, &schedule).await,
            _ = housekeeping.tick() => {
                let swept = sweep_files(&pool, &storage).await;
                housekeep(&pool, &schedule).await.and(swept)
            }
        };
        if let Err(e) = job {
            tracing::warn!(error = %e, "background job failed; will retry");
        }
    }
}

async fn sweep_files(pool: &DbPool, storage: &crm_files::Storage) -> Result<(), String> {
    let removed = crm_files::sweep_orphans(pool, storage, ORPHAN_GRACE)
        .await
        .map_err(|e| format!("file sweep: {e}"))?;
    if removed > 0 {
        tracing::info!(objects = removed, "orphaned file objects removed");
    }
    let removed = crm_imports::sweep_files(pool, storage, ORPHAN_GRACE)
        .await
        .map_err(|e| format!("import file sweep: {e}"))?;
    if removed > 0 {
        tracing::info!(objects = removed, "orphaned import files removed");
    }
    Ok(())
}

async fn fire_reminders(pool: &DbPool) -> Result<(), String> {
    let mut conn = get_conn(pool).await.map_err(|e| e.to_string())?;
    let fired = crm_tasks::reminders::fire_due_reminders(&mut conn, Utc::now())
        .await
        .map_err(|e| format!("task reminders: {e}"))?;
    if fired > 0 {
        tracing::info!(reminders = fired, "task reminders fired");
    }
    Ok(())
}

async fn prune_outbox(pool: &DbPool, schedule: &Schedule) -> Result<(), String> {
    let mut conn = get_conn(pool).await.map_err(|e| e.to_string())?;
    let now = Utc::now();
    let retention = TimeDelta::from_std(schedule.outbox_retention).unwrap_or(TimeDelta::days(7));
    let events = crm_events::prune(&mut conn, now - retention)
        .await
        .map_err(|e| format!("outbox pruning: {e}"))?;
    crm_tasks::reminders::prune_reminders(&mut conn, now)
        .await
        .map_err(|e| format!("reminder pruning: {e}"))?;
    tracing::info!(events, "outbox pruned");
    Ok(())
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

async fn housekeep(pool: &DbPool, schedule: &Schedule) -> Result<(), String> {
    let mut conn = get_conn(pool).await.map_err(|e| e.to_string())?;
    let retention = TimeDelta::from_std(schedule.trash_retention).unwrap_or(TimeDelta::days(30));
    let purged = purge_trash(&mut conn, Utc::now() - retention).await?;
    let idempotency = crm_http::idempotency::purge_expired(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let window = TimeDelta::from_std(schedule.login_window).unwrap_or(TimeDelta::days(1));
    let failures = diesel::delete(
        login_failures::table.filter(login_failures::failed_at.lt(Utc::now() - window)),
    )
    .execute(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    // Finished jobs are kept a week for inspection; the imports they ran keep their own record.
    let jobs = crm_jobs::prune(&mut conn, Utc::now() - TimeDelta::days(7))
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(purged, idempotency, failures, jobs, "housekeeping done");
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
