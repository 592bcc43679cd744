//! `crm-server`: the CRM HTTP API. With no arguments it serves (same as `crm-server serve`).
//! Without `DATABASE_URL` it runs on a private PostgreSQL cluster in the data directory.

mod bootstrap;
mod config;
mod database;
mod seed;
mod telemetry;
mod transfer;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use crm_http::{AppState, build_server};
use crm_users::Passwords;

use crate::config::{Cli, Command, Settings};
use crate::database::Database;

/// Startup failures: printed as one line each, exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is missing or invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The local PostgreSQL could not be started.
    #[error(transparent)]
    LocalPg(#[from] crm_db::local_pg::LocalPgError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crm_db::DbError),
    /// A user operation failed.
    #[error(transparent)]
    User(#[from] crm_users::UserError),
    /// Binding or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), StartupError> {
    let settings = cli.settings;
    let db = Database::open(&settings).await?;
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings, &db).await,
        Command::Migrate => Ok(()),
        Command::CreateAdmin(args) => {
            bootstrap::create_admin(&db, &passwords(&settings)?, args).await
        }
        Command::SeedDemo(args) => seed::seed_demo(&db, &passwords(&settings)?, args).await,
        Command::Import(args) => transfer::import(&settings, &db, args).await,
        Command::Export(args) => transfer::export(&db, args).await,
    };
    db.shutdown();
    result
}

fn passwords(settings: &Settings) -> Result<Passwords, StartupError> {
    Ok(if settings.fast_password_hashing {
        Passwords::fast_for_tests_with(settings.hashing_limits())?
    } else {
        Passwords::production(settings.hashing_limits())?
    })
}

/// Exports running at once on an instance, each on a database connection of its own.
const EXPORTS_AT_ONCE: usize = 4;

async fn serve(settings: &Settings, db: &Database) -> Result<(), StartupError> {
    let passwords = passwords(settings)?;
    bootstrap::first_admin(db, &passwords, settings).await?;
    let listener = TcpListener::bind(&settings.listen)
        .map_err(|e| StartupError::Config(format!("cannot listen on {}: {e}", settings.listen)))?;
    let auth = Arc::new(settings.auth_config(db.jwt_secret.clone()));
    let realtime_settings = settings.realtime_settings();
    let realtime = crm_realtime::Hub::start(
        db.pool.clone(),
        db.url.clone(),
        auth.clone(),
        Arc::new(crm_http::RecordRooms),
        realtime_settings.clone(),
    );
    let location = settings.storage_location();
    let storage = crm_files::Storage::open(&location, &[])
        .map_err(|e| StartupError::Config(format!("CRM_STORAGE: {e}")))?;
    tracing::info!(storage = storage.label(), "file storage");
    let state = AppState {
        pool: db.pool.clone(),
        auth,
        passwords: Arc::new(passwords),
        http: Arc::new(settings.http_settings()),
        storage: storage.clone(),
        exports: crm_http::Exports::new(db.url.clone(), EXPORTS_AT_ONCE),
        realtime: realtime.clone(),
    };
    let schedule = crm_server::scheduler::Schedule::new(
        &realtime_settings,
        std::time::Duration::from_secs(settings.login_window_seconds),
        std::time::Duration::from_secs(settings.trash_retention_days.saturating_mul(24 * 3600)),
    );
    tokio::spawn(crm_server::scheduler::run(
        db.pool.clone(),
        storage,
        schedule,
    ));
    let addr = listener.local_addr()?;
    let server = build_server(listener, state)?;
    tracing::info!(%addr, "listening; API docs at http://{addr}/api/docs");
    // actix stops gracefully on these signals by itself; WebSockets are closed with a reason.
    tokio::spawn(async move {
        shutdown_signal().await;
        realtime.shutdown();
    });
    server.await?;
    tracing::info!("server stopped");
    Ok(())
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
