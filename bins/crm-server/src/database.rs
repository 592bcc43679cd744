//! Which database to use: `DATABASE_URL`, or the private cluster in the data directory.

use std::path::Path;

use base64::Engine;
use crm_db::local_pg::{LocalPg, LocalPgOptions};
use crm_db::migrations::run_migrations;
use crm_db::{DbPool, PoolSettings, build_pool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::StartupError;
use crate::config::Settings;

/// Name of the database the server uses on its private cluster.
const LOCAL_DATABASE: &str = "crm";

/// The database the server runs on, migrated and pooled.
pub struct Database {
    /// Pool on the application database.
    pub pool: DbPool,
    /// URL of the application database (the realtime hub LISTENs on its own connection).
    pub url: String,
    /// Access-token signing secret.
    pub jwt_secret: Vec<u8>,
    local: Option<LocalPg>,
}

impl Database {
    /// Resolves, starts (if local), migrates and pools the database.
    pub async fn open(settings: &Settings) -> Result<Self, StartupError> {
        let (url, local, jwt_secret) = match &settings.database_url {
            Some(url) => {
                let secret = settings.jwt_secret.clone().ok_or_else(|| {
                    StartupError::Config(
                        "CRM_JWT_SECRET is required when DATABASE_URL is set".into(),
                    )
                })?;
                (url.clone(), None, secret.into_bytes())
            }
            None => {
                std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
                    StartupError::Config(format!(
                        "cannot create {}: {e}",
                        settings.data_dir.display()
                    ))
                })?;
                let data_dir = std::path::absolute(&settings.data_dir)?;
                let pg = tokio::task::spawn_blocking(move || {
                    LocalPg::start(LocalPgOptions {
                        data_dir: data_dir.join("pg"),
                        throwaway: false,
                    })
                })
                .await
                .map_err(|e| StartupError::Config(e.to_string()))??;
                tracing::info!(data_dir = %pg.data_dir().display(), "using the private PostgreSQL cluster (DATABASE_URL is unset)");
                ensure_database(&pg.database_url("postgres"), LOCAL_DATABASE).await?;
                let secret = match &settings.jwt_secret {
                    Some(s) => s.clone().into_bytes(),
                    None => local_secret(&settings.data_dir.join("jwt-secret"))?,
                };
                (pg.database_url(LOCAL_DATABASE), Some(pg), secret)
            }
        };
        if jwt_secret.len() < 32 {
            return Err(StartupError::Config(
                "CRM_JWT_SECRET must be at least 32 bytes".into(),
            ));
        }
        let applied = run_migrations(&url).await?;
        tracing::info!(applied, "migrations up to date");
        let pool = build_pool(
            &url,
            &PoolSettings {
                max_size: settings.db_pool_size,
                ..PoolSettings::default()
            },
        )?;
        Ok(Self {
            pool,
            url,
            jwt_secret,
            local,
        })
    }

    /// Stops the private cluster if this process started it.
    pub fn shutdown(&self) {
        if let Some(Err(e)) = self.local.as_ref().map(LocalPg::stop) {
            tracing::warn!(error = %e, "could not stop the private PostgreSQL cluster");
        }
    }
}

async fn ensure_database(admin_url: &str, name: &str) -> Result<(), StartupError> {
    let unavailable = |e: diesel::ConnectionError| crm_db::DbError::Unavailable(e.to_string());
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .map_err(unavailable)?;
    let exists = diesel::sql_query(format!(
        "SELECT 1 FROM pg_database WHERE datname = '{name}'"
    ))
    .execute(&mut conn)
    .await
    .map_err(crm_db::DbError::Query)?
        > 0;
    if !exists {
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(crm_db::DbError::Query)?;
        tracing::info!(database = name, "created the application database");
    }
    Ok(())
}

/// The JWT secret kept in the data directory, generated on first use (mode 0600).
fn local_secret(path: &Path) -> Result<Vec<u8>, StartupError> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim();
        if existing.len() >= 32 {
            return Ok(existing.as_bytes().to_vec());
        }
    }
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| StartupError::Config(e.to_string()))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(path, &secret)?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> Result<(), StartupError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
