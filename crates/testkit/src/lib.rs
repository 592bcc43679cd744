//! Test support shared by the service tests of every crate and the black-box API tests:
//! one PostgreSQL per test process (a throwaway local cluster, or the server of
//! `DATABASE_URL`), a migrated template database, and a fresh database per test copied from it
//! in milliseconds, dropped when the test ends; builders that insert users through the real
//! service (`UserBuilder`) and rows of the record tables that tests of other crates need
//! (`DealRow`, `ContactRow`, `TaskRow`); and checks several crates' tests make alike.
//!
//! Depends on `crm-core`, `crm-db` and `crm-users` (for the user builder): domain crates use it as a
//! dev-dependency.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod builders;
pub mod checks;
mod cluster;
mod database;
pub mod rows;

pub use builders::{UserBuilder, user};
pub use checks::{fields, index_plan};
pub use cluster::server_url;
pub use database::TestDb;
pub use rows::{ContactRow, DealRow, TaskRow, first_stage};
