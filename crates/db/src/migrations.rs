//! Migrations embedded in the binary and applied without libpq.

use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::DbError;

/// Every migration of `migrations/`.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Applies pending migrations to the database at `url`; returns how many ran.
pub async fn run_migrations(url: &str) -> Result<usize, DbError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(applied.len())
    })
    .await
    .map_err(|e| DbError::Migration(e.to_string()))?
}

/// A fingerprint of the migration files this binary embeds (changes with any edit), e.g. to
/// name a template database after it.
pub const MIGRATIONS_FINGERPRINT: &str = env!("CRM_MIGRATIONS_FINGERPRINT");
