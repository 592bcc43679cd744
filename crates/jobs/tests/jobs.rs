//! The job queue against a real PostgreSQL: claims never overlap, retries back off, stale jobs
//! are taken back, and the runner runs, retries and gives up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crm_db::DbPool;
use crm_db::schema::jobs;
use crm_jobs::{Handler, Job, JobFailure, JobStatus, Lease, Runner, RunnerSettings};
use crm_testkit::TestDb;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::future::BoxFuture;
use serde_json::json;

#[tokio::test]
async fn concurrent_claims_take_each_job_once() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    for i in 0..20 {
        crm_jobs::enqueue(&mut conn, "test", json!({ "i": i }), 3)
            .await
            .unwrap();
    }
    crm_jobs::enqueue(&mut conn, "other", json!({}), 3)
        .await
        .unwrap();
    let claimers = (0..4).map(|w| {
        let db = &db;
        async move {
            let mut conn = db.conn().await;
            let mut mine = Vec::new();
            while let Some(job) = crm_jobs::claim(&mut conn, &["test"], &format!("w{w}"))
                .await
                .unwrap()
            {
                assert_eq!((job.kind.as_str(), job.attempts), ("test", 1));
                mine.push(job.payload["i"].as_i64().unwrap());
            }
            mine
        }
    });
    let mut all: Vec<i64> = futures_util::future::join_all(claimers)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..20).collect::<Vec<_>>());
    let queued: i64 = jobs::table
        .filter(jobs::status.eq("queued"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, 1, "the other kind was not claimed");
}

#[tokio::test]
async fn a_failed_attempt_backs_off_and_the_last_one_fails_for_good() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let id = crm_jobs::enqueue(&mut conn, "test", json!({}), 2)
        .await
        .unwrap();
    let job = crm_jobs::claim(&mut conn, &["test"], "w")
        .await
        .unwrap()
        .unwrap();
    // Another worker cannot finish or beat for it.
    assert!(
        !crm_jobs::heartbeat(&mut conn, id, "intruder")
            .await
            .unwrap()
    );
    assert!(crm_jobs::heartbeat(&mut conn, id, "w").await.unwrap());
    let status = crm_jobs::fail(&mut conn, &job, "w", "boom", true)
        .await
        .unwrap();
    assert_eq!(status, Some(JobStatus::Queued));
    // Not due before its backoff.
    assert!(
        crm_jobs::claim(&mut conn, &["test"], "w")
            .await
            .unwrap()
            .is_none()
    );
    diesel::update(jobs::table.find(id))
        .set(jobs::run_at.eq(chrono::Utc::now()))
        .execute(&mut conn)
        .await
        .unwrap();
    let job = crm_jobs::claim(&mut conn, &["test"], "w")
        .await
        .unwrap()
        .unwrap();
    assert!(job.is_last_attempt());
    let status = crm_jobs::fail(&mut conn, &job, "w", "boom again", true)
        .await
        .unwrap();
    assert_eq!(status, Some(JobStatus::Failed));
    let (status, error) = crm_jobs::status_of(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(
        (status, error.as_deref()),
        (JobStatus::Failed, Some("boom again"))
    );
    assert_eq!(crm_jobs::backoff(1), Duration::from_secs(10));
    assert_eq!(crm_jobs::backoff(3), Duration::from_secs(40));
    assert_eq!(crm_jobs::backoff(30), Duration::from_secs(3600));
}

#[tokio::test]
async fn jobs_of_an_instance_that_stopped_beating_are_taken_back() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let again = crm_jobs::enqueue(&mut conn, "test", json!({}), 2)
        .await
        .unwrap();
    let done = crm_jobs::enqueue(&mut conn, "test", json!({}), 1)
        .await
        .unwrap();
    crm_jobs::claim(&mut conn, &["test"], "dead")
        .await
        .unwrap()
        .unwrap();
    crm_jobs::claim(&mut conn, &["test"], "dead")
        .await
        .unwrap()
        .unwrap();
    // Fresh heartbeats are left alone.
    assert!(
        crm_jobs::reap(&mut conn, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut reaped = crm_jobs::reap(&mut conn, Duration::from_millis(10))
        .await
        .unwrap();
    reaped.sort_by_key(|r| r.job.max_attempts);
    let outcome: Vec<_> = reaped.iter().map(|r| (r.job.id, r.status)).collect();
    assert_eq!(
        outcome,
        [(done, JobStatus::Failed), (again, JobStatus::Queued)]
    );
    // The dead instance's late beat finds the job gone.
    assert!(!crm_jobs::heartbeat(&mut conn, again, "dead").await.unwrap());
    let job = crm_jobs::claim(&mut conn, &["test"], "alive")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.id, job.attempts), (again, 2));
}

/// Fails its first `flaky` attempts (transiently), or every attempt (permanently) when
/// `payload.bad` is set.
struct Flaky {
    flaky: usize,
    runs: AtomicUsize,
    failed: AtomicUsize,
}

impl Handler for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }

    fn run<'a>(
        &'a self,
        _: &'a DbPool,
        job: &'a Job,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            assert!(lease.held());
            let run = self.runs.fetch_add(1, Ordering::SeqCst);
            if job.payload["bad"] == true {
                Err(JobFailure::permanent("bad input"))
            } else if run < self.flaky {
                Err(JobFailure::transient("not yet"))
            } else {
                Ok(())
            }
        })
    }

    fn failed<'a>(&'a self, _: &'a DbPool, _: &'a Job, message: &'a str) -> BoxFuture<'a, ()> {
        assert_eq!(message, "bad input");
        self.failed.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

#[tokio::test]
async fn the_runner_runs_retries_and_gives_up() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let handler = Arc::new(Flaky {
        flaky: 1,
        runs: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    });
    let mut conn = db.conn().await;
    let good = crm_jobs::enqueue(&mut conn, "flaky", json!({}), 3)
        .await
        .unwrap();
    let bad = crm_jobs::enqueue(&mut conn, "flaky", json!({ "bad": true }), 3)
        .await
        .unwrap();
    let settings = RunnerSettings {
        poll: Duration::from_millis(20),
        heartbeat: Duration::from_millis(50),
        ..RunnerSettings::default()
    };
    let runner = tokio::spawn(Runner::new(pool, vec![handler.clone()], settings).run());
    // The transient failure waits out its 10 s backoff: make it due at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        diesel::update(jobs::table.filter(jobs::status.eq("queued")))
            .set(jobs::run_at.eq(chrono::Utc::now()))
            .execute(&mut conn)
            .await
            .unwrap();
        let good_status = crm_jobs::status_of(&mut conn, good)
            .await
            .unwrap()
            .unwrap()
            .0;
        let bad_status = crm_jobs::status_of(&mut conn, bad)
            .await
            .unwrap()
            .unwrap()
            .0;
        if good_status == JobStatus::Succeeded && bad_status == JobStatus::Failed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{good_status:?} {bad_status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.abort();
    // The bad job ran once (a permanent failure is not retried), the good one twice.
    assert_eq!(AtomicUsize::load(&handler.runs, Ordering::SeqCst), 3);
    assert_eq!(AtomicUsize::load(&handler.failed, Ordering::SeqCst), 1);
}
