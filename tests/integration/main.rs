//! Black-box API tests: every test gets its own database and a real server on a free port, and
//! talks to it over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod activity;
mod api_keys;
mod auth;
mod bodies;
mod comments;
mod companies;
mod contacts;
mod conventions;
mod custom_fields;
mod deals;
mod exports;
mod exports_records;
mod files;
mod files_s3;
mod idempotency;
mod imports;
mod imports_deals;
mod login_flood;
mod openapi;
mod pipelines;
mod query_counts;
mod realtime;
mod records;
mod stored_names;
mod support;
mod tags;
mod tasks;
mod transport;
mod users;
mod visibility;
