//! Test support shared by the service tests of every crate and the black-box API tests:
//! one PostgreSQL per test process (a throwaway local cluster, or the server of
//! `DATABASE_URL`), a migrated template database, and a fresh database per test copied from it
//! in milliseconds, dropped when the test ends.
//!
//! Depends only on `crm-db`: domain crates use it as a dev-dependency without cycles.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod cluster;
mod database;

pub use cluster::server_url;
pub use database::TestDb;
