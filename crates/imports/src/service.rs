//! Import use cases: asking for one (the job is enqueued in the same transaction), reading
//! one's own imports, and the failed rows for `errors.csv`.

use chrono::Utc;
use crm_core::{Actor, Cursor, FieldError, Listing, PageRequest, Permission};
use crm_db::AsyncPgConnection;
use crm_db::schema::{import_failures, imports};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ImportError;
use crate::mapping;
use crate::model::{Import, ImportEntity, ImportRow, RowError, UpsertKey};
use crate::run::IMPORT_JOB;

/// Row problems shown on an import (every one is in `errors.csv`).
pub const SHOWN_ERRORS: i64 = 100;
/// Attempts of an import job (a resumed attempt continues after the last committed batch).
const ATTEMPTS: i32 = 3;

/// An import to start: the file is already stored under `id`.
#[derive(Debug, Clone)]
pub struct NewImport {
    /// The import's id, and the key of its stored file.
    pub id: Uuid,
    /// What it creates.
    pub entity: ImportEntity,
    /// Check only.
    pub dry_run: bool,
    /// The explicit mapping as sent (`{column: field}` JSON), if any.
    pub mapping: Option<String>,
    /// Update records found by this value instead of creating them.
    pub upsert_key: Option<UpsertKey>,
    /// The uploaded file's name.
    pub file_name: String,
}

/// Starts an import (`data.import` and the right to create its records): the import and its
/// job are written in one transaction.
pub async fn create_import(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    new: NewImport,
) -> Result<Import, ImportError> {
    actor.require(Permission::DataImport)?;
    match new.entity {
        ImportEntity::Contacts => actor.require(Permission::ContactsWrite)?,
        ImportEntity::Companies => actor.require(Permission::CompaniesWrite)?,
        ImportEntity::Deals => actor.require(Permission::DealsWrite)?,
        ImportEntity::Tasks => actor.require(Permission::TasksWrite)?,
    }
    let mut errors = Vec::new();
    let explicit = match new.mapping.as_deref() {
        Some(raw) => match mapping::parse_explicit(new.entity, raw) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    if let Some(key) = new.upsert_key {
        let allowed = UpsertKey::allowed(new.entity);
        if !allowed.contains(&key) {
            let names: Vec<&str> = allowed.iter().map(|k| k.as_str()).collect();
            let message = if names.is_empty() {
                format!("{} cannot be upserted: they have no key", new.entity)
            } else {
                format!("for {}: one of {}", new.entity, names.join(", "))
            };
            errors.push(FieldError::new("upsertKey", message));
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    let shown_mapping = explicit.map(|_| {
        serde_json::from_str::<Value>(new.mapping.as_deref().unwrap_or("{}")).unwrap_or_default()
    });
    conn.transaction(async |conn| {
        let job =
            crm_jobs::enqueue(conn, IMPORT_JOB, json!({ "importId": new.id }), ATTEMPTS).await?;
        let now = Utc::now();
        let row: ImportRow = diesel::insert_into(imports::table)
            .values((
                imports::id.eq(new.id),
                imports::job_id.eq(job.0),
                imports::created_by_id.eq(actor.user_id),
                imports::api_key_id.eq(actor.api_key_id.map(|k| k.0)),
                imports::entity_type.eq(new.entity.as_str()),
                imports::dry_run.eq(new.dry_run),
                imports::upsert_key.eq(new.upsert_key.map(|k| k.as_str())),
                imports::file_name.eq(&new.file_name),
                imports::mapping.eq(shown_mapping),
                imports::created_at.eq(now),
                imports::updated_at.eq(now),
            ))
            .returning(ImportRow::as_returning())
            .get_result(conn)
            .await?;
        Ok(Import::from_row(row, Vec::new()))
    })
    .await
}

/// The imports an actor started: by its user, or by its API key.
#[diesel::dsl::auto_type(no_type_alias)]
fn mine(actor: &Actor) -> _ {
    let user: Option<Uuid> = actor.user_id.map(|u| u.0);
    let key: Option<Uuid> = actor.api_key_id.map(|k| k.0);
    imports::created_by_id
        .eq(user)
        .and(imports::api_key_id.is_not_distinct_from(key))
}

/// One of the actor's imports (`data.import`), with its first row problems.
pub async fn get_import(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Import, ImportError> {
    actor.require(Permission::DataImport)?;
    let row: ImportRow = imports::table
        .find(id)
        .filter(mine(actor))
        .select(ImportRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ImportError::NotFound(id))?;
    let failures: Vec<(i64, Value)> = import_failures::table
        .filter(import_failures::import_id.eq(id))
        .order(import_failures::line.asc())
        .select((import_failures::line, import_failures::errors))
        .limit(SHOWN_ERRORS)
        .load(conn)
        .await?;
    let mut errors = Vec::new();
    for (line, problems) in failures {
        let problems: Vec<RowError> = serde_json::from_value(problems).unwrap_or_default();
        errors.extend(problems.into_iter().map(|p| RowError { row: line, ..p }));
        if errors.len() as i64 >= SHOWN_ERRORS {
            break;
        }
    }
    errors.truncate(SHOWN_ERRORS as usize);
    Ok(Import::from_row(row, errors))
}

/// The actor's imports (`data.import`), oldest first, offset- or keyset-paged. Items carry no
/// `errors` (read the import for them).
pub async fn list_imports(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    page: &PageRequest,
    cursor: Option<Option<Cursor>>,
) -> Result<Listing<Import>, ImportError> {
    actor.require(Permission::DataImport)?;
    let filtered = || imports::table.filter(mine(actor)).into_boxed();
    let listing: Listing<ImportRow> = crm_db::load_listing!(
        conn,
        imports,
        ImportRow,
        page,
        cursor,
        filtered(),
        |query| query.order(imports::created_at.asc()),
    );
    Ok(listing.map(|r| Import::from_row(r, Vec::new())))
}

/// A failed row: its line, its cells as they were, and what was wrong.
pub type Failure = (i64, Vec<String>, Vec<RowError>);

/// The header row of one of the actor's imports (`None` until the file was read) — the first
/// line of `errors.csv`.
pub async fn headers_of(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Option<Vec<String>>, ImportError> {
    actor.require(Permission::DataImport)?;
    imports::table
        .find(id)
        .filter(mine(actor))
        .select(imports::headers)
        .first(conn)
        .await
        .optional()?
        .ok_or(ImportError::NotFound(id))
}

/// Up to `limit` failed rows of an import after line `after`, in file order. The caller has
/// checked the import is the actor's ([`headers_of`]).
pub async fn failures_page(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<Failure>, ImportError> {
    let rows: Vec<(i64, Vec<String>, Value)> = import_failures::table
        .filter(import_failures::import_id.eq(id))
        .filter(import_failures::line.gt(after))
        .order(import_failures::line.asc())
        .select((
            import_failures::line,
            import_failures::cells,
            import_failures::errors,
        ))
        .limit(limit)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(line, cells, errors)| {
            (
                line,
                cells,
                serde_json::from_value(errors).unwrap_or_default(),
            )
        })
        .collect())
}

/// The background job that runs import `id`.
pub async fn job_of(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<crm_core::JobId, ImportError> {
    let job: Uuid = imports::table
        .find(id)
        .select(imports::job_id)
        .first(conn)
        .await
        .optional()?
        .ok_or(ImportError::NotFound(id))?;
    Ok(crm_core::JobId(job))
}
