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
    /// The realtime hub of this instance (WebSocket clients, rooms, outbox reader).
    pub realtime: crm_realtime::Hub,
}

impl AppState {
    /// A pooled connection, or 503 when the database cannot be reached.
    pub async fn conn(&self) -> Result<PooledConn, ApiError> {
        Ok(get_conn(&self.pool).await?)
    }
}
