//! Durable background jobs, one mechanism for every kind (imports now, outgoing webhook
//! deliveries later).
//!
//! - [`enqueue`] inside the transaction that asks for the job: a rolled-back request leaves no
//!   job, a committed one always has its job.
//! - A [`Runner`] on every server instance claims due jobs with `FOR UPDATE SKIP LOCKED`, so
//!   several instances never run one job at once, and keeps each claimed job's heartbeat fresh.
//! - A job whose instance died stops beating; [`reap`] (run by every runner) gives it back to
//!   the queue for another attempt, or marks it failed once its attempts are used up — never
//!   left silently half-done. Handlers make their work resumable (an import commits its
//!   progress with each batch) and idempotent per attempt.
//! - A failed attempt is retried with exponential backoff ([`backoff`]) up to `max_attempts`.
//!
//! The maintained PostgreSQL job crates (`graphile_worker`, `apalis`'s postgres backend) run on
//! sqlx: a second driver and pool beside diesel, and no way to enqueue in a diesel
//! transaction. This module is small enough to own.

pub mod runner;
pub mod store;

pub use runner::{Handler, JobFailure, Lease, Runner, RunnerSettings};
pub use store::{
    Job, JobStatus, backoff, claim, claim_id, enqueue, fail, heartbeat, prune, reap, status_of,
    succeed,
};
