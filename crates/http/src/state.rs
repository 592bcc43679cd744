//! What every handler can reach: the pool and the auth settings.

use std::sync::Arc;

use crm_auth::AuthConfig;
use crm_db::DbPool;
use crm_db::pool::{PooledConn, get_conn};
use crm_users::Passwords;

use crate::problem::ApiError;
use crate::server::HttpSettings;

/// Shared application state, cheap to clone (everything behind `Arc` or a pool handle).
#[derive(Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: DbPool,
    /// Token settings.
    pub auth: Arc<AuthConfig>,
    /// Password hashing.
    pub passwords: Arc<Passwords>,
    /// HTTP-level settings.
    pub http: Arc<HttpSettings>,
    /// Where file contents are stored.
    pub storage: crm_files::Storage,
    /// Exports: their own database connections, a few at a time.
    pub exports: Exports,
    /// The realtime hub of this instance (WebSocket clients, rooms, outbox reader).
    pub realtime: crm_realtime::Hub,
}

/// What exports need: a database URL for connections of their own (an export is read at the
/// client's pace; it never holds a pooled connection), and how many may run at once.
#[derive(Clone)]
pub struct Exports {
    /// The database URL.
    pub database_url: String,
    /// Exports running at once on this instance (more: 503).
    pub slots: Arc<tokio::sync::Semaphore>,
}

impl Exports {
    /// At most `concurrent` exports at once over `database_url`.
    pub fn new(database_url: impl Into<String>, concurrent: usize) -> Self {
        Self {
            database_url: database_url.into(),
            slots: Arc::new(tokio::sync::Semaphore::new(concurrent.max(1))),
        }
    }
}

impl AppState {
    /// A pooled connection, or 503 when the database cannot be reached.
    pub async fn conn(&self) -> Result<PooledConn, ApiError> {
        Ok(get_conn(&self.pool).await?)
    }
}
