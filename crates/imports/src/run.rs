//! The import job: reads the stored file as a stream of rows and writes it batch by batch.
//!
//! The file is copied from storage to a local working file (XLSX needs one to seek in), read
//! on a blocking thread by `crm-tabular`, and handed over in batches through a small channel,
//! so memory stays bounded whatever the file's size. Each batch commits, in one transaction,
//! its records, its failed rows, the import's counters and `done_line`, and an
//! `import.progress` event in the starter's room: an attempt that dies is resumed after the
//! last committed batch, and no row is written twice.

use std::path::PathBuf;

use chrono::Utc;
use crm_core::{Actor, ApiKeyId, FieldError, FileId, Permission, UserId};
use crm_custom_fields::{CustomField, CustomFieldEntity, FieldSet};
use crm_db::schema::{api_keys, import_failures, import_keys, imports};
use crm_db::{AsyncPgConnection, DbPool, StoredRole};
use crm_events::{Audience, EventName, NewEvent, Room};
use crm_files::Storage;
use crm_jobs::{Handler, Job, JobFailure, Lease};
use crm_tabular::{Limits, Mapped, Row, TabularError};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::mapping;
use crate::model::{ImportEntity, ImportRow, ImportStatus, RowError};
use crate::values;

/// The kind of the import jobs.
pub const IMPORT_JOB: &str = "import";
/// Rows per batch: one transaction, a few statements.
pub const BATCH_ROWS: usize = 1000;

/// Runs import jobs: files from `storage` (the imports' part of the file storage), working
/// copies in `work_dir`.
pub struct ImportJobs {
    storage: Storage,
    work_dir: PathBuf,
}

impl ImportJobs {
    /// The handler of import jobs.
    pub fn new(storage: Storage, work_dir: PathBuf) -> Self {
        Self { storage, work_dir }
    }
}

impl Handler for ImportJobs {
    fn kind(&self) -> &'static str {
        IMPORT_JOB
    }

    fn run<'a>(
        &'a self,
        pool: &'a DbPool,
        job: &'a Job,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            let id = import_id(job)?;
            let work = self.work_dir.join(format!("import-{id}"));
            let outcome = self.run_import(pool, id, &work, lease).await;
            // The working copy goes whatever happened; the next attempt fetches it again.
            let _ = tokio::fs::remove_file(&work).await;
            outcome
        })
    }

    fn failed<'a>(&'a self, pool: &'a DbPool, job: &'a Job, message: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok(id) = import_id(job) else { return };
            if let Err(e) = finish(pool, id, Err(message)).await {
                tracing::warn!(error = %e, import = %id, "a failed import could not be marked");
            }
            self.forget_file(id).await;
        })
    }
}

fn import_id(job: &Job) -> Result<Uuid, JobFailure> {
    job.payload["importId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobFailure::permanent("the job names no import"))
}

fn transient(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::transient(e.to_string())
}

/// What the reading thread hands over.
enum Piece {
    Headers(Vec<String>),
    Rows(Vec<Result<Row, TabularError>>),
}

impl ImportJobs {
    async fn forget_file(&self, id: Uuid) {
        if let Err(e) = self.storage.remove(FileId(id)).await {
            tracing::warn!(error = %e, import = %id, "an import's file was not removed");
        }
    }

    async fn run_import(
        &self,
        pool: &DbPool,
        id: Uuid,
        work: &std::path::Path,
        lease: &Lease,
    ) -> Result<(), JobFailure> {
        let (import, actor) = {
            let mut conn = crm_db::pool::get_conn(pool).await.map_err(transient)?;
            let Some(import) = start(&mut conn, id).await.map_err(transient)? else {
                return Ok(());
            };
            let actor = actor_of(&mut conn, &import).await?;
            (import, actor)
        };
        self.fetch(id, work).await?;
        let (sender, mut pieces) = mpsc::channel::<Result<Piece, TabularError>>(2);
        let path = work.to_path_buf();
        let reader = tokio::task::spawn_blocking(move || read_file(&path, &sender));
        let mut batch_state: Option<Batches> = None;
        while let Some(piece) = pieces.recv().await {
            if !lease.held() {
                return Err(JobFailure::transient("the job was taken back"));
            }
            match piece {
                Err(e) => {
                    return Err(JobFailure::permanent(format!(
                        "the file cannot be read: {e}"
                    )));
                }
                Ok(Piece::Headers(headers)) => {
                    let mut conn = crm_db::pool::get_conn(pool).await.map_err(transient)?;
                    batch_state = Some(Batches::new(&mut conn, &import, headers).await?);
                }
                Ok(Piece::Rows(rows)) => {
                    let Some(state) = batch_state.as_mut() else {
                        return Err(JobFailure::permanent("the file has no header row"));
                    };
                    let mut conn = crm_db::pool::get_conn(pool).await.map_err(transient)?;
                    state.write(&mut conn, &actor, &import, rows).await?;
                }
            }
        }
        reader.await.map_err(transient)?;
        finish(pool, id, Ok(())).await.map_err(transient)?;
        self.forget_file(id).await;
        Ok(())
    }

    /// Copies the stored file to the working file, streaming.
    async fn fetch(&self, id: Uuid, work: &std::path::Path) -> Result<(), JobFailure> {
        let read = self.storage.read(FileId(id), None).await.map_err(|e| {
            // A file already gone can never be imported.
            if crm_core::DomainError::kind(&e) == crm_core::ErrorKind::NotFound {
                JobFailure::permanent("the uploaded file is gone")
            } else {
                transient(e)
            }
        })?;
        if let Some(dir) = work.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(transient)?;
        }
        let mut file = tokio::fs::File::create(work).await.map_err(transient)?;
        let mut body = read.body;
        while let Some(chunk) = body.next().await {
            file.write_all(&chunk.map_err(transient)?)
                .await
                .map_err(transient)?;
        }
        file.flush().await.map_err(transient)?;
        Ok(())
    }
}

/// Reads the file on a blocking thread: the headers, then batches of rows. Stops when the
/// receiver is gone.
fn read_file(path: &std::path::Path, out: &mpsc::Sender<Result<Piece, TabularError>>) {
    let mut table = match crm_tabular::open(path, Limits::default()) {
        Ok(table) => table,
        Err(e) => {
            let _ = out.blocking_send(Err(e));
            return;
        }
    };
    if out
        .blocking_send(Ok(Piece::Headers(table.headers.clone())))
        .is_err()
    {
        return;
    }
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    for row in table.rows() {
        let fatal = matches!(&row, Err(e) if !e.is_row_error());
        batch.push(row);
        if batch.len() == BATCH_ROWS || fatal {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
            if out.blocking_send(Ok(Piece::Rows(full))).is_err() || fatal {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = out.blocking_send(Ok(Piece::Rows(batch)));
    }
}

/// Marks the import running (a resumed one stays as it was); `None` when it has ended.
async fn start(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<ImportRow>> {
    let now = Utc::now();
    diesel::update(imports::table.find(id))
        .filter(imports::status.eq_any(["queued", "running"]))
        .set((
            imports::status.eq(ImportStatus::Running.as_str()),
            imports::started_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(started_at, now())")),
            imports::updated_at.eq(now),
        ))
        .returning(ImportRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// The actor the import runs as: its starter as they are now (a deactivated user or a revoked
/// key stops it).
async fn actor_of(conn: &mut AsyncPgConnection, import: &ImportRow) -> Result<Actor, JobFailure> {
    if let Some(key) = import.api_key_id {
        let row: Option<(StoredRole, Option<UserId>, Option<chrono::DateTime<Utc>>)> =
            api_keys::table
                .find(key)
                .select((
                    api_keys::role,
                    api_keys::created_by_id,
                    api_keys::revoked_at,
                ))
                .first(conn)
                .await
                .optional()
                .map_err(transient)?;
        return match row {
            Some((role, created_by, None)) => Ok(Actor {
                user_id: created_by,
                api_key_id: Some(ApiKeyId(key)),
                role: role.0,
                permissions: role.0.default_permissions(),
                import_id: Some(import.id),
            }),
            _ => Err(JobFailure::permanent(
                "the API key that started it was revoked",
            )),
        };
    }
    let Some(user) = import.created_by_id else {
        return Err(JobFailure::permanent("the user who started it is gone"));
    };
    match crm_users::get_user(conn, &Actor::system(), user).await {
        Ok(u) if u.is_active => Ok(Actor {
            import_id: Some(import.id),
            ..u.actor()
        }),
        Ok(_) => Err(JobFailure::permanent(
            "the user who started it was deactivated",
        )),
        Err(crm_users::UserError::NotFound(_)) => {
            Err(JobFailure::permanent("the user who started it is gone"))
        }
        Err(e) => Err(transient(e)),
    }
}

/// Ends the import: succeeded (its total known) or failed with why; its keys are forgotten and
/// `import.finished` goes to its starter's room.
async fn finish(pool: &DbPool, id: Uuid, outcome: Result<(), &str>) -> Result<(), crm_db::DbError> {
    let mut conn = crm_db::pool::get_conn(pool).await?;
    conn.transaction::<_, crm_db::DbError, _>(async |conn| {
        let now = Utc::now();
        let status = if outcome.is_ok() {
            ImportStatus::Succeeded
        } else {
            ImportStatus::Failed
        };
        let row: Option<ImportRow> = diesel::update(imports::table.find(id))
            .filter(imports::status.eq_any(["queued", "running"]))
            .set((
                imports::status.eq(status.as_str()),
                imports::error.eq(outcome.err()),
                imports::total_rows.eq(imports::processed_rows),
                imports::finished_at.eq(now),
                imports::updated_at.eq(now),
            ))
            .returning(ImportRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        diesel::delete(import_keys::table.filter(import_keys::import_id.eq(id)))
            .execute(conn)
            .await?;
        if let Some(row) = row {
            notify(conn, &row, EventName::ImportFinished).await?;
        }
        Ok(())
    })
    .await
}

/// `import.progress` / `import.finished` in the starter's room (data: the import's figures).
async fn notify(
    conn: &mut AsyncPgConnection,
    row: &ImportRow,
    name: EventName,
) -> Result<(), crm_db::DbError> {
    let Some(user) = row.created_by_id else {
        return Ok(());
    };
    let payload = json!({
        "id": row.id,
        "entityType": row.entity_type,
        "status": row.status,
        "dryRun": row.dry_run,
        "processedRows": row.processed_rows,
        "createdRows": row.created_rows,
        "updatedRows": row.updated_rows,
        "failedRows": row.failed_rows,
        "error": row.error,
    });
    let audience = Audience::default().and(Permission::DataImport);
    let event = NewEvent::new(name, vec![Room::User(user)], audience, payload);
    let actor = Actor {
        user_id: Some(user),
        api_key_id: row.api_key_id.map(ApiKeyId),
        role: crm_core::Role::Viewer,
        permissions: crm_core::PermissionSet::default(),
        import_id: None,
    };
    crm_events::append(conn, &actor, vec![event]).await?;
    Ok(())
}

/// The file's mapping and custom fields, and the batches written so far.
struct Batches {
    entity: ImportEntity,
    headers: Vec<String>,
    mapping: Vec<Option<Mapped>>,
    custom: Vec<CustomField>,
}

impl Batches {
    async fn new(
        conn: &mut AsyncPgConnection,
        import: &ImportRow,
        headers: Vec<String>,
    ) -> Result<Self, JobFailure> {
        let entity = match import.entity_type {
            ImportEntity::Contacts => CustomFieldEntity::Contact,
            ImportEntity::Companies => CustomFieldEntity::Company,
            ImportEntity::Deals => CustomFieldEntity::Deal,
            ImportEntity::Tasks => CustomFieldEntity::Task,
        };
        let defs = FieldSet::for_read(conn, entity).await.map_err(transient)?;
        let custom: Vec<CustomField> = defs
            .fields()
            .iter()
            .filter(|f| f.is_active)
            .cloned()
            .collect();
        let names: Vec<(String, String)> = custom
            .iter()
            .map(|f| (f.key.clone(), f.name.clone()))
            .collect();
        let explicit = match &import.mapping {
            Some(Value::Object(_)) => {
                let raw = import
                    .mapping
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default();
                Some(
                    mapping::parse_explicit(import.entity_type, &raw)
                        .map_err(|e| JobFailure::permanent(e.message))?,
                )
            }
            _ => None,
        };
        let mapped = mapping::resolve(import.entity_type, &headers, explicit.as_ref(), &names);
        if mapped.iter().all(Option::is_none) {
            return Err(JobFailure::permanent(
                "no column of the file maps to a field (see the headers, or send a mapping)",
            ));
        }
        diesel::update(imports::table.find(import.id))
            .set((
                imports::headers.eq(&headers),
                imports::mapping.eq(mapping::describe(&headers, &mapped)),
            ))
            .execute(conn)
            .await
            .map_err(transient)?;
        Ok(Self {
            entity: import.entity_type,
            headers,
            mapping: mapped,
            custom,
        })
    }

    /// The header of the column an API field path (`email`, `customFields.x`, `tags[2]`) came
    /// from.
    fn column_of(&self, field: &str) -> Option<String> {
        let field = field.split('[').next().unwrap_or(field);
        let wanted = match field.strip_prefix("customFields.") {
            Some(key) => Mapped::Custom(key.to_owned()),
            None => {
                let spec = mapping::fields_of(self.entity)
                    .iter()
                    .find(|s| s.field == field)?;
                Mapped::Field(spec.field)
            }
        };
        let i = self
            .mapping
            .iter()
            .position(|m| m.as_ref() == Some(&wanted))?;
        self.headers.get(i).cloned()
    }

    fn problems(&self, line: i64, errors: &[FieldError]) -> Vec<RowError> {
        errors
            .iter()
            .map(|e| {
                let column = self.column_of(&e.field);
                let message = match column {
                    Some(_) => e.message.clone(),
                    None => format!("{}: {}", e.field, e.message),
                };
                RowError {
                    row: line,
                    column,
                    message,
                }
            })
            .collect()
    }

    /// Writes one batch with the import's progress, in one transaction; rows up to `done_line`
    /// were written by an earlier attempt and are skipped.
    async fn write(
        &mut self,
        conn: &mut AsyncPgConnection,
        actor: &Actor,
        import: &ImportRow,
        rows: Vec<Result<Row, TabularError>>,
    ) -> Result<(), JobFailure> {
        let done_line: i64 = imports::table
            .find(import.id)
            .select(imports::done_line)
            .first(conn)
            .await
            .map_err(transient)?;
        let mut failures: Vec<(i64, Vec<String>, Vec<RowError>)> = Vec::new();
        let mut inputs = values::Inputs::new(self.entity);
        let mut cells_of: std::collections::HashMap<u64, Vec<String>> = Default::default();
        let mut last_line = done_line;
        let mut seen = 0i64;
        for row in rows {
            match row {
                Err(e) => {
                    if !e.is_row_error() {
                        return Err(JobFailure::permanent(format!(
                            "the file cannot be read: {e}"
                        )));
                    }
                    let line = match &e {
                        TabularError::TooManyColumns { line, .. }
                        | TabularError::CellTooLarge { line, .. } => *line as i64,
                        _ => last_line + 1,
                    };
                    if line <= done_line {
                        continue;
                    }
                    seen += 1;
                    last_line = last_line.max(line);
                    let problem = RowError {
                        row: line,
                        column: None,
                        message: e.to_string(),
                    };
                    failures.push((line, Vec::new(), vec![problem]));
                }
                Ok(row) => {
                    let line = row.line as i64;
                    if line <= done_line {
                        continue;
                    }
                    seen += 1;
                    last_line = last_line.max(line);
                    if row.cells.len() > self.headers.len() {
                        let message = format!(
                            "the row has {} cells, the header {}",
                            row.cells.len(),
                            self.headers.len()
                        );
                        failures.push((
                            line,
                            row.cells,
                            vec![RowError {
                                row: line,
                                column: None,
                                message,
                            }],
                        ));
                        continue;
                    }
                    match inputs.push(row.line, &row.cells, &self.mapping, &self.custom) {
                        Ok(()) => {
                            cells_of.insert(row.line, row.cells);
                        }
                        Err(errors) => {
                            let problems = self.problems(line, &errors);
                            failures.push((line, row.cells, problems));
                        }
                    }
                }
            }
        }
        if seen == 0 {
            return Ok(());
        }
        let dry_run = import.dry_run;
        let me = &*self;
        let outcome = conn
            .transaction::<_, JobFailure, _>(async |conn| {
                let upsert = import.upsert_key.map(|k| k.by());
                let crm_db::import_keys::BatchOutcome {
                    created,
                    updated,
                    failures: refused,
                } = inputs
                    .write(conn, actor, import.id, dry_run, upsert)
                    .await?;
                let mut failures = failures;
                for (line, errors) in &refused {
                    let line_i = *line as i64;
                    let cells = cells_of.remove(line).unwrap_or_default();
                    failures.push((line_i, cells, me.problems(line_i, errors)));
                }
                let failed = failures.len() as i64;
                let records: Vec<_> = failures
                    .iter()
                    .map(|(line, cells, problems)| {
                        (
                            import_failures::import_id.eq(import.id),
                            import_failures::line.eq(*line),
                            import_failures::cells.eq(cells.clone()),
                            import_failures::errors
                                .eq(serde_json::to_value(problems).unwrap_or_default()),
                        )
                    })
                    .collect();
                for chunk in records.chunks(5000) {
                    diesel::insert_into(import_failures::table)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await
                        .map_err(transient)?;
                }
                let row: ImportRow = diesel::update(imports::table.find(import.id))
                    .set((
                        imports::processed_rows.eq(imports::processed_rows + seen),
                        imports::total_rows.eq(imports::processed_rows + seen),
                        imports::created_rows.eq(imports::created_rows + created as i64),
                        imports::updated_rows.eq(imports::updated_rows + updated as i64),
                        imports::failed_rows.eq(imports::failed_rows + failed),
                        imports::done_line.eq(last_line),
                        imports::updated_at.eq(Utc::now()),
                    ))
                    .returning(ImportRow::as_returning())
                    .get_result(conn)
                    .await
                    .map_err(transient)?;
                notify(conn, &row, EventName::ImportProgress)
                    .await
                    .map_err(transient)?;
                Ok(created)
            })
            .await?;
        tracing::debug!(import = %import.id, created = outcome, "import batch written");
        Ok(())
    }
}
