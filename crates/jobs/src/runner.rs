//! The loop that runs jobs on one instance: claims due jobs up to its concurrency, keeps their
//! heartbeats fresh while their handlers work, records how each attempt ended, and takes back
//! the jobs of instances that stopped beating.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crm_db::DbPool;
use crm_db::pool::get_conn;
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use crate::store::{self, Job, JobStatus};

/// Why an attempt failed, and whether another attempt may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// What went wrong, stored with the job.
    pub message: String,
    /// `false`: retrying cannot help (bad input); the job fails at once.
    pub retry: bool,
}

impl JobFailure {
    /// A failure another attempt may not have (database down, storage unreachable).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: true,
        }
    }

    /// A failure every attempt would have.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: false,
        }
    }
}

/// A database failure is worth another attempt.
impl From<diesel::result::Error> for JobFailure {
    fn from(e: diesel::result::Error) -> Self {
        JobFailure::transient(e.to_string())
    }
}

/// Whether the running attempt still holds its job. Lost when a heartbeat found the job taken
/// back (the instance looked dead to the others): the handler stops at its next checkpoint.
#[derive(Debug, Default)]
pub struct Lease {
    lost: AtomicBool,
}

impl Lease {
    /// `false` once the job was taken back.
    pub fn held(&self) -> bool {
        !self.lost.load(Ordering::Relaxed)
    }
}

/// What runs the jobs of one kind.
pub trait Handler: Send + Sync + 'static {
    /// The kind of job (`jobs.kind`) it runs.
    fn kind(&self) -> &'static str;

    /// Runs one attempt. It may be a repeat of an attempt that died half-way: handlers resume
    /// from what they committed.
    fn run<'a>(
        &'a self,
        pool: &'a DbPool,
        job: &'a Job,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<(), JobFailure>>;

    /// Called once when the job has failed for good (its last attempt failed, or it was taken
    /// back from a dead instance with no attempt left), so the handler's own records say so.
    fn failed<'a>(&'a self, pool: &'a DbPool, job: &'a Job, message: &'a str) -> BoxFuture<'a, ()>;
}

/// How a runner works.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// How often due jobs are looked for.
    pub poll: Duration,
    /// How often a running job's heartbeat is refreshed.
    pub heartbeat: Duration,
    /// A running job whose heartbeat is older than this is taken back.
    pub stale_after: Duration,
    /// Jobs run at once on this instance.
    pub concurrency: usize,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            heartbeat: Duration::from_secs(5),
            stale_after: Duration::from_secs(30),
            concurrency: 2,
        }
    }
}

/// The job loop of one instance.
pub struct Runner {
    pool: DbPool,
    handlers: Arc<HashMap<&'static str, Arc<dyn Handler>>>,
    worker: Arc<str>,
    settings: RunnerSettings,
}

impl Runner {
    /// A runner of these handlers, named uniquely (the name is stored as `locked_by`).
    pub fn new(pool: DbPool, handlers: Vec<Arc<dyn Handler>>, settings: RunnerSettings) -> Self {
        let handlers = handlers.into_iter().map(|h| (h.kind(), h)).collect();
        let worker = format!("{}-{}", std::process::id(), crm_core::JobId::new());
        Self {
            pool,
            handlers: Arc::new(handlers),
            worker: worker.into(),
            settings,
        }
    }

    /// Runs until the runtime ends; spawn it.
    pub async fn run(self) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let kinds: Vec<&'static str> = self.handlers.keys().copied().collect();
        let mut poll = tokio::time::interval(self.settings.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reap = tokio::time::interval(self.settings.heartbeat);
        reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = poll.tick() => {
                    if let Err(e) = self.claim_due(&kinds, &slots).await {
                        tracing::warn!(error = %e, "claiming jobs failed; will retry");
                    }
                }
                _ = reap.tick() => {
                    if let Err(e) = self.reap().await {
                        tracing::warn!(error = %e, "taking back stale jobs failed; will retry");
                    }
                }
            }
        }
    }

    /// Runs job `id` here and now if it is queued and due, with its heartbeat, as the loop
    /// would (a command-line run uses this): whether it ran here. When another instance holds
    /// it, that one runs it.
    pub async fn run_now(&self, id: crm_core::JobId) -> Result<bool, String> {
        let job = {
            let mut conn = get_conn(&self.pool).await.map_err(|e| e.to_string())?;
            store::claim_id(&mut conn, id, &self.worker)
                .await
                .map_err(|e| e.to_string())?
        };
        let Some(job) = job else { return Ok(false) };
        let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
            return Err(format!("no handler runs jobs of kind {}", job.kind));
        };
        attempt(
            self.pool.clone(),
            handler,
            job,
            Arc::clone(&self.worker),
            self.settings.clone(),
        )
        .await;
        Ok(true)
    }

    async fn claim_due(&self, kinds: &[&str], slots: &Arc<Semaphore>) -> Result<(), String> {
        while let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            let job = {
                let mut conn = get_conn(&self.pool).await.map_err(|e| e.to_string())?;
                store::claim(&mut conn, kinds, &self.worker)
                    .await
                    .map_err(|e| e.to_string())?
            };
            let Some(job) = job else { return Ok(()) };
            let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
                continue;
            };
            let (pool, worker, settings) = (
                self.pool.clone(),
                Arc::clone(&self.worker),
                self.settings.clone(),
            );
            tokio::spawn(async move {
                attempt(pool, handler, job, worker, settings).await;
                drop(permit);
            });
        }
        Ok(())
    }

    async fn reap(&self) -> Result<(), String> {
        let reaped = {
            let mut conn = get_conn(&self.pool).await.map_err(|e| e.to_string())?;
            store::reap(&mut conn, self.settings.stale_after)
                .await
                .map_err(|e| e.to_string())?
        };
        for r in reaped {
            tracing::warn!(job = %r.job.id, kind = %r.job.kind, status = ?r.status, "took back a job whose instance stopped");
            if r.status == JobStatus::Failed
                && let Some(handler) = self.handlers.get(r.job.kind.as_str())
            {
                handler
                    .failed(&self.pool, &r.job, "the instance running it stopped")
                    .await;
            }
        }
        Ok(())
    }
}

/// One attempt of `job`, with its heartbeat beside it.
async fn attempt(
    pool: DbPool,
    handler: Arc<dyn Handler>,
    job: Job,
    worker: Arc<str>,
    settings: RunnerSettings,
) {
    let lease = Lease::default();
    let beat = async {
        let mut ticker = tokio::time::interval(settings.heartbeat);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Ok(mut conn) = get_conn(&pool).await else {
                continue;
            };
            if let Ok(false) = store::heartbeat(&mut conn, job.id, &worker).await {
                lease.lost.store(true, Ordering::Relaxed);
                return;
            }
        }
    };
    let outcome = tokio::select! {
        outcome = handler.run(&pool, &job, &lease) => outcome,
        // The job was taken back: the handler stops at its next checkpoint anyway, and what
        // it committed is resumed by the next attempt.
        () = async { beat.await; std::future::pending::<()>().await } => return,
    };
    let recorded = match get_conn(&pool).await {
        Ok(mut conn) => match &outcome {
            Ok(()) => store::succeed(&mut conn, job.id, &worker)
                .await
                .map(|held| held.then_some(JobStatus::Succeeded)),
            Err(f) => store::fail(&mut conn, &job, &worker, &f.message, f.retry).await,
        },
        Err(e) => {
            // The heartbeat stops with this task: the job is taken back and run again.
            tracing::warn!(error = %e, job = %job.id, "the end of a job could not be recorded");
            return;
        }
    };
    match (recorded, outcome) {
        (Ok(Some(JobStatus::Failed)), Err(f)) => {
            tracing::warn!(job = %job.id, kind = %job.kind, error = %f.message, "job failed");
            handler.failed(&pool, &job, &f.message).await;
        }
        (Ok(Some(JobStatus::Queued)), Err(f)) => {
            tracing::info!(job = %job.id, kind = %job.kind, error = %f.message, "job attempt failed; will retry");
        }
        (Err(e), _) => {
            tracing::warn!(error = %e, job = %job.id, "the end of a job could not be recorded")
        }
        _ => {}
    }
}
