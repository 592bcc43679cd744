//! The `jobs` table: enqueue, claim, heartbeat, finish, reap.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use crm_core::JobId;
use crm_db::AsyncPgConnection;
use crm_db::schema::jobs;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for its `run_at`.
    Queued,
    /// Claimed by an instance.
    Running,
    /// Done.
    Succeeded,
    /// Given up: its attempts are used up, or its failure is not worth retrying.
    Failed,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = jobs)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Which handler runs it.
    pub kind: String,
    /// What the handler needs to know.
    pub payload: Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
}

impl Job {
    /// Whether this attempt is the last one allowed.
    pub fn is_last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

/// How long to wait before attempt `attempts + 1`: 10 s, doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
    Duration::from_secs(10u64.saturating_mul(1u64 << exp.min(20)).min(3600))
}

/// Queues a job of `kind`, due now; call it in the transaction that asks for the job.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    kind: &str,
    payload: Value,
    max_attempts: i32,
) -> QueryResult<JobId> {
    let id = JobId::new();
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(id),
            jobs::kind.eq(kind),
            jobs::payload.eq(payload),
            jobs::max_attempts.eq(max_attempts.max(1)),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Claims the oldest due job of one of `kinds` for `worker`, if any: it becomes `running` with
/// a fresh heartbeat and one more attempt. Jobs other instances hold are skipped, not waited
/// for.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    kinds: &[&str],
    worker: &str,
) -> QueryResult<Option<Job>> {
    let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    let row: Option<ReapedRow> = diesel::sql_query(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, \
           heartbeat_at = now(), updated_at = now() \
         WHERE id = (SELECT id FROM jobs \
                     WHERE status = 'queued' AND run_at <= now() AND kind = ANY($2) \
                     ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts, max_attempts, status",
    )
    .bind::<diesel::sql_types::Text, _>(worker)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&kinds)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| r.into_parts().0))
}

/// Claims job `id` for `worker` if it is queued and due (as [`claim`] does); `None` when it is
/// not (another instance holds it, it ended, or it waits for a retry).
pub async fn claim_id(
    conn: &mut AsyncPgConnection,
    id: JobId,
    worker: &str,
) -> QueryResult<Option<Job>> {
    let row: Option<ReapedRow> = diesel::sql_query(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, \
           heartbeat_at = now(), updated_at = now() \
         WHERE id = (SELECT id FROM jobs \
                     WHERE id = $2 AND status = 'queued' AND run_at <= now() \
                     FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts, max_attempts, status",
    )
    .bind::<diesel::sql_types::Text, _>(worker)
    .bind::<diesel::sql_types::Uuid, _>(id)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| r.into_parts().0))
}

/// Refreshes the heartbeat of a job `worker` holds; `false` when it no longer holds it (it
/// was reaped after missing beats): the handler should stop.
pub async fn heartbeat(conn: &mut AsyncPgConnection, id: JobId, worker: &str) -> QueryResult<bool> {
    let n = diesel::update(held(id, worker))
        .set(jobs::heartbeat_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

#[diesel::dsl::auto_type]
fn held<'a>(id: JobId, worker: &'a str) -> _ {
    jobs::table
        .filter(jobs::id.eq(id))
        .filter(jobs::status.eq("running"))
        .filter(jobs::locked_by.eq(worker))
}

/// Marks a job `worker` holds as done; `false` when it no longer held it.
pub async fn succeed(conn: &mut AsyncPgConnection, id: JobId, worker: &str) -> QueryResult<bool> {
    let now = Utc::now();
    let n = diesel::update(held(id, worker))
        .set((
            jobs::status.eq(JobStatus::Succeeded.as_str()),
            jobs::locked_by.eq(None::<String>),
            jobs::finished_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Records a failed attempt of a job `worker` holds: queued again after [`backoff`] when
/// `retry` and attempts remain, otherwise failed for good. Returns the status it now has
/// (`None` when the worker no longer held it).
pub async fn fail(
    conn: &mut AsyncPgConnection,
    job: &Job,
    worker: &str,
    error: &str,
    retry: bool,
) -> QueryResult<Option<JobStatus>> {
    let now = Utc::now();
    let again = retry && !job.is_last_attempt();
    let status = if again {
        JobStatus::Queued
    } else {
        JobStatus::Failed
    };
    let run_at = now + TimeDelta::from_std(backoff(job.attempts)).unwrap_or(TimeDelta::hours(1));
    let n = diesel::update(held(job.id, worker))
        .set((
            jobs::status.eq(status.as_str()),
            jobs::locked_by.eq(None::<String>),
            jobs::last_error.eq(error),
            jobs::run_at.eq(run_at),
            jobs::finished_at.eq((!again).then_some(now)),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok((n == 1).then_some(status))
}

/// A job taken back from an instance that stopped beating.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaped {
    /// The job (its attempts as they were).
    pub job: Job,
    /// `Queued` for another attempt, or `Failed` with its attempts used up.
    pub status: JobStatus,
}

/// Takes back every running job whose heartbeat is older than `stale`: queued again (due at
/// once) while attempts remain, failed otherwise. Safe to run on every instance at once.
pub async fn reap(conn: &mut AsyncPgConnection, stale: Duration) -> QueryResult<Vec<Reaped>> {
    let now = Utc::now();
    let cutoff = now - TimeDelta::from_std(stale).unwrap_or(TimeDelta::minutes(5));
    let reaped: Vec<(Job, String)> = diesel::sql_query(
        "UPDATE jobs SET \
           status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
           finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE $1 END, \
           last_error = 'the instance running it stopped (no heartbeat)', \
           locked_by = NULL, run_at = $1, updated_at = $1 \
         WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND heartbeat_at < $2 \
                      FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts, max_attempts, status",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::Timestamptz, _>(cutoff)
    .load::<ReapedRow>(conn)
    .await?
    .into_iter()
    .map(ReapedRow::into_parts)
    .collect();
    Ok(reaped
        .into_iter()
        .map(|(job, status)| Reaped {
            job,
            status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
        })
        .collect())
}

impl ReapedRow {
    fn into_parts(self) -> (Job, String) {
        let job = Job {
            id: self.id,
            kind: self.kind,
            payload: self.payload,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
        };
        (job, self.status)
    }
}

/// A job row as `UPDATE ... RETURNING` gives it.
#[derive(QueryableByName)]
struct ReapedRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: JobId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    payload: Value,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    max_attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
}

/// The status and last error of a job.
pub async fn status_of(
    conn: &mut AsyncPgConnection,
    id: JobId,
) -> QueryResult<Option<(JobStatus, Option<String>)>> {
    let row: Option<(String, Option<String>)> = jobs::table
        .find(id)
        .select((jobs::status, jobs::last_error))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(|(status, error)| JobStatus::parse(&status).map(|s| (s, error))))
}

/// Forgets finished jobs that finished before `before`.
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        jobs::table
            .filter(jobs::status.eq_any(["succeeded", "failed"]))
            .filter(jobs::finished_at.lt(before)),
    )
    .execute(conn)
    .await
}
