//! The async connection pool. Short timeouts: with the database down, requests fail fast with
//! 503 instead of queueing, and the pool heals by itself when the database returns.

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};

use crate::error::DbError;

/// The shared pool type.
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of the pool.
pub type PooledConn = Object<AsyncPgConnection>;

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_size: usize,
    /// How long a request waits for a free connection or a new one.
    pub timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 16,
            timeout: Duration::from_secs(3),
        }
    }
}

/// Builds a pool for `url`; connections are opened lazily.
pub fn build_pool(url: &str, settings: &PoolSettings) -> Result<DbPool, DbError> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    Pool::builder(manager)
        .max_size(settings.max_size)
        .wait_timeout(Some(settings.timeout))
        .create_timeout(Some(settings.timeout))
        .recycle_timeout(Some(settings.timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Config(e.to_string()))
}

/// Checks a connection out, mapping every pool failure to `DbError::Unavailable`.
pub async fn get_conn(pool: &DbPool) -> Result<PooledConn, DbError> {
    pool.get()
        .await
        .map_err(|e| DbError::Unavailable(e.to_string()))
}
