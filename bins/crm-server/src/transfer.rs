//! `crm-server import` and `crm-server export`: the API's imports and exports from the command
//! line, as a user of the CRM (their permissions and visibility), with a progress bar.
//!
//! An import is the API's own: the file is stored, the import and its job are created, and
//! this process runs the job (with its heartbeat, so a server running beside it never runs it
//! too); a job another instance already took is followed until it ends.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use crm_core::Actor;
use crm_db::schema::users;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncReadExt;

use crate::StartupError;
use crate::config::Settings;
use crate::database::Database;

/// `import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// contacts, companies, deals or tasks.
    pub entity_type: String,
    /// The CSV or XLSX file.
    pub file: PathBuf,
    /// A JSON file `{"<column header>": "<field>"}` (default: mapped from the headers).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Check every row, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Update the records rows find by this key (email, phone, name or number).
    #[arg(long)]
    pub upsert_key: Option<String>,
    /// Import as this user (default: the first active admin).
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
}

/// `export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// contacts, companies, deals or tasks.
    pub entity_type: String,
    /// csv or xlsx.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// The file to write (`-`: standard output; default: `<entityType>.<format>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The list's filters and sort as in the API's query string, e.g. `status=open&sort=-amount`.
    #[arg(long, default_value = "")]
    pub query: String,
    /// Export as this user (default: the first active admin).
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
}

fn failed(e: impl std::fmt::Display) -> StartupError {
    StartupError::Config(e.to_string())
}

/// The user the command acts as, as they are now.
async fn actor_of(db: &Database, email: Option<&str>) -> Result<Actor, StartupError> {
    let mut conn = crm_db::pool::get_conn(&db.pool).await?;
    let query = users::table.filter(users::is_active.eq(true)).into_boxed();
    let query = match email {
        Some(email) => query.filter(crm_db::sql::lower(users::email).eq(email.to_lowercase())),
        None => query
            .filter(users::role.eq("ADMIN"))
            .order((users::created_at.asc(), users::id.asc())),
    };
    let id: Option<crm_core::UserId> = query
        .select(users::id)
        .first(&mut conn)
        .await
        .optional()
        .map_err(crm_db::DbError::from)?;
    let Some(id) = id else {
        return Err(failed(match email {
            Some(e) => format!("no active user has the e-mail {e}"),
            None => "no active admin: name a user with --as".to_owned(),
        }));
    };
    Ok(crm_users::get_user(&mut conn, &Actor::system(), id)
        .await?
        .actor())
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Runs an import to its end; the summary goes to standard output. Fails when the import
/// fails as a whole (rows refused are reported, not a failure).
pub async fn import(
    settings: &Settings,
    db: &Database,
    args: ImportArgs,
) -> Result<(), StartupError> {
    let actor = actor_of(db, args.as_user.as_deref()).await?;
    let entity: crm_imports::ImportEntity = args
        .entity_type
        .parse()
        .map_err(|_| failed("the record type is one of contacts, companies, deals, tasks"))?;
    let upsert_key = args
        .upsert_key
        .as_deref()
        .map(|k| {
            k.parse::<crm_imports::UpsertKey>()
                .map_err(|_| failed("--upsert-key is one of email, phone, name, number"))
        })
        .transpose()?;
    let mapping = match &args.mapping {
        Some(path) => Some(
            tokio::fs::read_to_string(path)
                .await
                .map_err(|e| failed(format!("{}: {e}", path.display())))?,
        ),
        None => None,
    };
    let files = crm_files::Storage::open(&settings.storage_location(), &[])
        .map_err(|e| failed(format!("CRM_STORAGE: {e}")))?;
    let storage = crm_imports::import_storage(&files);
    let object = store(
        &storage,
        &args.file,
        settings.http_settings().max_import_bytes,
    )
    .await?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new = crm_imports::NewImport {
        id: object.id.0,
        entity,
        dry_run: args.dry_run,
        mapping,
        upsert_key,
        file_name: crm_files::model::clean_name(&file_name),
    };
    let (started, job) = {
        let mut conn = crm_db::pool::get_conn(&db.pool).await?;
        let created = crm_imports::create_import(&mut conn, &actor, new).await;
        let started = match created {
            Ok(started) => started,
            Err(e) => {
                let _ = storage.remove(object.id).await;
                return Err(refused(e));
            }
        };
        let job = crm_imports::job_of(&mut conn, started.id)
            .await
            .map_err(failed)?;
        (started, job)
    };
    let handler = crm_imports::ImportJobs::new(storage, std::env::temp_dir().join("crm-imports"));
    let runner = crm_jobs::Runner::new(
        db.pool.clone(),
        vec![std::sync::Arc::new(handler)],
        crm_jobs::RunnerSettings::default(),
    );
    let bar = spinner();
    let progress = async {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let Ok(mut conn) = crm_db::pool::get_conn(&db.pool).await else {
                continue;
            };
            if let Ok(now) = crm_imports::get_import(&mut conn, &actor, started.id).await {
                bar.set_message(format!(
                    "{} rows: {} created, {} updated, {} refused",
                    now.processed_rows, now.created_rows, now.updated_rows, now.failed_rows
                ));
            }
        }
    };
    let run = async {
        loop {
            runner.run_now(job).await.map_err(failed)?;
            let mut conn = crm_db::pool::get_conn(&db.pool).await?;
            let now = crm_imports::get_import(&mut conn, &actor, started.id)
                .await
                .map_err(failed)?;
            if matches!(
                now.status,
                crm_imports::ImportStatus::Succeeded | crm_imports::ImportStatus::Failed
            ) {
                return Ok::<_, StartupError>(now);
            }
            // Held by another instance, or waiting for a retry.
            drop(conn);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let done = tokio::select! {
        done = run => done?,
        () = progress => unreachable!("the progress loop never ends"),
    };
    bar.finish_and_clear();
    println!(
        "import {} {}: {} rows, {} created, {} updated, {} refused{}",
        done.id,
        done.status,
        done.total_rows,
        done.created_rows,
        done.updated_rows,
        done.failed_rows,
        if done.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        },
    );
    for e in &done.errors {
        println!(
            "  row {}{}: {}",
            e.row,
            e.column
                .as_deref()
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default(),
            e.message
        );
    }
    if done.failed_rows > done.errors.len() as i64 {
        println!(
            "  ... every refused row: GET /api/import-export/imports/{}/errors.csv",
            done.id
        );
    }
    match done.error {
        Some(why) => Err(failed(format!("the import failed: {why}"))),
        None => Ok(()),
    }
}

/// Streams the file into the import storage, hashing it, within the import size limit.
async fn store(
    storage: &crm_files::Storage,
    path: &std::path::Path,
    limit: u64,
) -> Result<crm_files::StoredObject, StartupError> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let mut upload = crm_files::Upload::begin(storage, limit);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                upload.abort().await;
                return Err(failed(format!("{}: {e}", path.display())));
            }
        };
        if n == 0 {
            break;
        }
        if let Err(e) = upload.write(bytes::Bytes::copy_from_slice(&buf[..n])).await {
            upload.abort().await;
            return Err(failed(e));
        }
    }
    upload.finish().await.map_err(failed)
}

fn refused(e: crm_imports::ImportError) -> StartupError {
    let fields: Vec<String> = crm_core::DomainError::field_errors(&e)
        .into_iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect();
    if fields.is_empty() {
        failed(e)
    } else {
        failed(format!("{e}: {}", fields.join("; ")))
    }
}

/// Writes an export to a file (or standard output); the row count goes to standard error.
pub async fn export(db: &Database, args: ExportArgs) -> Result<(), StartupError> {
    let actor = actor_of(db, args.as_user.as_deref()).await?;
    let format = match args.format.as_str() {
        "csv" => crm_exports::ExportFormat::Csv,
        "xlsx" => crm_exports::ExportFormat::Xlsx,
        _ => return Err(failed("--format is csv or xlsx")),
    };
    let what = {
        let mut conn = crm_db::pool::get_conn(&db.pool).await?;
        crm_http::routes::exports::export_request(&mut conn, &args.entity_type, &args.query)
            .await
            .map_err(|e| {
                let fields: Vec<String> = e
                    .field_errors()
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect();
                failed(format!("{e} {}", fields.join("; ")))
            })?
    };
    let name = what.name();
    let out_path = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{name}.{}", args.format)));
    let mut out: Box<dyn Write + Send> = if out_path.as_os_str() == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(&out_path)
                .map_err(|e| failed(format!("{}: {e}", out_path.display())))?,
        ))
    };
    let (ready, started) = tokio::sync::oneshot::channel();
    let (sender, mut body) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn(crm_exports::export(
        db.url.clone(),
        db.pool.clone(),
        actor,
        what,
        format,
        std::env::temp_dir().join("crm-exports"),
        crm_exports::Sink { ready, out: sender },
    ));
    started
        .await
        .map_err(|_| failed("the export stopped before it started"))?
        .map_err(failed)?;
    let bar = spinner();
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = body.recv().await {
        let chunk = chunk.map_err(failed)?;
        bytes += chunk.len() as u64;
        if format == crm_exports::ExportFormat::Csv {
            lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            bar.set_message(format!("{} lines, {} bytes", lines, bytes));
        } else {
            bar.set_message(format!("{bytes} bytes"));
        }
        out.write_all(&chunk)
            .map_err(|e| failed(format!("{}: {e}", out_path.display())))?;
    }
    out.flush()
        .map_err(|e| failed(format!("{}: {e}", out_path.display())))?;
    task.await.map_err(failed)?;
    bar.finish_and_clear();
    eprintln!("exported {name} to {} ({bytes} bytes)", out_path.display());
    Ok(())
}
