//! A database per test, copied from a migrated template.

use crm_db::migrations::{MIGRATIONS_FINGERPRINT, run_migrations};
use crm_db::{AsyncPgConnection, DbPool, PoolSettings, build_pool};
use diesel_async::{AsyncConnection, RunQueryDsl};
use tokio::sync::OnceCell;

use crate::cluster::{server_url, with_database};

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// Advisory-lock key that serialises template creation across test processes.
const TEMPLATE_LOCK: i64 = 0x4352_4d5f_5450_4c00;

async fn admin_conn() -> AsyncPgConnection {
    let url = server_url().expect("test PostgreSQL");
    AsyncPgConnection::establish(&url)
        .await
        .expect("connect to the test PostgreSQL server")
}

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("crm_tpl_{MIGRATIONS_FINGERPRINT}");
            let mut conn = admin_conn().await;
            diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
                .execute(&mut conn)
                .await
                .expect("template lock");
            let exists = diesel::sql_query(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{name}'"
            ))
            .execute(&mut conn)
            .await
            .expect("look up template")
                > 0;
            if !exists {
                let building = format!("{name}_building");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {building}"))
                    .execute(&mut conn)
                    .await
                    .expect("drop half-built template");
                diesel::sql_query(format!("CREATE DATABASE {building}"))
                    .execute(&mut conn)
                    .await
                    .expect("create template");
                let url = with_database(&server_url().expect("server"), &building);
                run_migrations(&url).await.expect("migrate template");
                // Renamed only when complete: a crash never leaves a half-migrated template.
                diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("publish template");
            }
            diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
                .execute(&mut conn)
                .await
                .expect("template unlock");
            name
        })
        .await
}

/// A fresh, migrated database of its own, dropped when the value is dropped.
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// Copies the template into a new database (tens of milliseconds).
    pub async fn new() -> Self {
        let db = Self::not_yet_created();
        db.create().await;
        db
    }

    /// A name and URL for a database that does not exist until `create` (to test what happens
    /// while the database is unreachable).
    pub fn not_yet_created() -> Self {
        let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(&server_url().expect("test PostgreSQL"), &name);
        Self { name, url }
    }

    /// Creates the database from the migrated template.
    pub async fn create(&self) {
        let template = template().await;
        let mut conn = admin_conn().await;
        diesel::sql_query(format!("CREATE DATABASE {} TEMPLATE {template}", self.name))
            .execute(&mut conn)
            .await
            .expect("create test database");
    }

    /// Connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool on this database.
    pub fn pool(&self) -> DbPool {
        self.pool_with(PoolSettings {
            max_size: 8,
            ..PoolSettings::default()
        })
    }

    /// A pool on this database with the given settings (e.g. a query counter).
    pub fn pool_with(&self, settings: PoolSettings) -> DbPool {
        build_pool(&self.url, &settings).expect("test pool")
    }

    /// Takes this database away as an outage would: new connections are refused and every
    /// open one is cut. [`TestDb::restore`] lets connections in again.
    pub async fn cut_off(&self) {
        let mut conn = admin_conn().await;
        diesel::sql_query(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("refuse connections");
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("cut connections");
    }

    /// Ends a [`TestDb::cut_off`].
    pub async fn restore(&self) {
        let mut conn = admin_conn().await;
        diesel::sql_query(format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("allow connections");
    }

    /// One connection to this database.
    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop may run inside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let mut conn = admin_conn().await;
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            });
        })
        .join();
    }
}
