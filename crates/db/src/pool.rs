//! The async connection pool. Short timeouts: with the database down, requests fail fast with
//! 503 instead of queueing, and the pool heals by itself when the database returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::AsyncConnection;
use diesel_async::pooled_connection::ManagerConfig;
use futures_util::FutureExt;

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
    /// Counts every statement sent on the pool's connections (tests prove lists run a constant
    /// number of queries with it).
    pub query_counter: Option<Arc<AtomicU64>>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 16,
            timeout: Duration::from_secs(3),
            query_counter: None,
        }
    }
}

/// Builds a pool for `url`; connections are opened lazily.
pub fn build_pool(url: &str, settings: &PoolSettings) -> Result<DbPool, DbError> {
    let manager = match settings.query_counter.clone() {
        None => AsyncDieselConnectionManager::<AsyncPgConnection>::new(url),
        Some(counter) => {
            let mut config = ManagerConfig::default();
            config.custom_setup = Box::new(move |url| {
                let counter = counter.clone();
                let url = url.to_owned();
                async move {
                    let mut conn = AsyncPgConnection::establish(&url).await?;
                    conn.set_instrumentation(QueryCounter(counter));
                    Ok(conn)
                }
                .boxed()
            });
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config)
        }
    };
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

struct QueryCounter(Arc<AtomicU64>);

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
