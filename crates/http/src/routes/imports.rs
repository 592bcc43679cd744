//! `/api/import-export/imports`: imports of records from CSV or XLSX files, run as background
//! jobs; their progress, and their failed rows as `errors.csv`.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use bytes::Bytes;
use crm_core::Permission;
use crm_imports::{Import, ImportEntity, ImportError, NewImport, UpsertKey};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::envelope::{Data, Paged, listing};
use crate::extract::AuthActor;
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::multipart::{
    MAX_PARTS, bad_form, check_declared_length, multipart_error, receive, text_field,
};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(start_import)
        .service(list_imports)
        .service(get_import)
        .service(import_errors);
}

/// The form of `POST /api/import-export/imports` (`multipart/form-data`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct ImportUpload {
    /// A CSV (any of `,` `;` tab `|` as delimiter; UTF-8 with or without BOM, UTF-16 with BOM,
    /// or Windows-1251) or an XLSX workbook (its first sheet), with a header row. At most
    /// `CRM_MAX_IMPORT_MB` MiB (default 200). The format is told from the bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// What the rows are (`contacts` or `companies` for now).
    entity_type: ImportEntity,
    /// `true`: check every row exactly as a real run would, write nothing.
    dry_run: Option<bool>,
    /// `{"<column header>": "<field>"}` (fields by API name, custom fields as
    /// `customFields.<key>`, `null` to skip); columns it does not name are skipped. Without
    /// it the columns are mapped from their headers (English and Russian names, custom fields'
    /// keys and names).
    mapping: Option<String>,
    /// Update the record found by this value instead of creating one (not available yet).
    upsert_key: Option<UpsertKey>,
}

/// Text fields are short; the mapping may name many columns.
const MAX_TEXT_FIELD: usize = 64;
const MAX_MAPPING: usize = 64 * 1024;

struct Form {
    entity: Option<ImportEntity>,
    dry_run: bool,
    mapping: Option<String>,
    upsert_key: Option<UpsertKey>,
    file: Option<(crm_files::Upload, String)>,
}

async fn read_form(state: &AppState, form: &mut Multipart, out: &mut Form) -> Result<(), ApiError> {
    let storage = crm_imports::import_storage(&state.storage);
    let mut seen: Vec<String> = Vec::new();
    while let Some(mut field) = form.try_next().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if seen.contains(&name) {
            return Err(bad_form(&name, "given more than once"));
        }
        if seen.len() >= MAX_PARTS {
            return Err(bad_form("file", "too many form fields"));
        }
        seen.push(name.clone());
        match name.as_str() {
            "entityType" => {
                let value = text_field(&mut field, &name, MAX_TEXT_FIELD).await?;
                out.entity = Some(value.parse().map_err(|_| {
                    bad_form("entityType", "one of contacts, companies, deals, tasks")
                })?);
            }
            "dryRun" => {
                let value = text_field(&mut field, &name, MAX_TEXT_FIELD).await?;
                out.dry_run = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(bad_form("dryRun", "true or false")),
                };
            }
            "mapping" => {
                let value = text_field(&mut field, &name, MAX_MAPPING).await?;
                out.mapping = (!value.is_empty()).then_some(value);
            }
            "upsertKey" => {
                let value = text_field(&mut field, &name, MAX_TEXT_FIELD).await?;
                if !value.is_empty() {
                    out.upsert_key =
                        Some(value.parse().map_err(|_| {
                            bad_form("upsertKey", "one of email, phone, name, number")
                        })?);
                }
            }
            "file" => {
                out.file = Some(receive(&storage, state.http.max_import_bytes, &mut field).await?);
            }
            _ => return Err(bad_form(&name, "unknown field")),
        }
    }
    Ok(())
}

/// Starts an import (`data.import` and the right to create the records): the file is stored
/// and a background job reads it. → 202 with the import (`queued`); follow it with
/// `GET /api/import-export/imports/{id}` or the `import.progress` / `import.finished` events
/// in `user:{id}`. `Idempotency-Key` does not apply to uploads.
#[utoipa::path(post, path = "/import-export/imports", tag = "import-export", request_body(content = ImportUpload, content_type = "multipart/form-data"), security(("bearer" = [])), responses(
    (status = 202, body = Data<Import>, headers(("Location" = String))),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "A missing, repeated or unknown form field, a bad mapping"),
    (status = 413, body = Problem, content_type = "application/problem+json", description = "`payload_too_large`"),
    (status = 415, body = Problem, content_type = "application/problem+json", description = "Not `multipart/form-data`"),
))]
#[post("/import-export/imports")]
async fn start_import(
    state: web::Data<AppState>,
    actor: AuthActor,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    actor
        .0
        .require(Permission::DataImport)
        .map_err(ImportError::from)?;
    check_declared_length(&req, state.http.max_import_bytes)?;
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut form = Form {
        entity: None,
        dry_run: false,
        mapping: None,
        upsert_key: None,
        file: None,
    };
    let read = read_form(&state, &mut multipart, &mut form).await;
    let (entity, (upload, name)) = match (read, form.entity, form.file.take()) {
        (Ok(()), Some(entity), Some(file)) => (entity, file),
        (read, entity, file) => {
            let had_file = file.is_some();
            // Whatever part of the file arrived goes again.
            if let Some((upload, _)) = file {
                upload.abort().await;
            }
            read?;
            let mut missing = Vec::new();
            if entity.is_none() {
                missing.push(crm_core::FieldError::new("entityType", "required"));
            }
            if !had_file {
                missing.push(crm_core::FieldError::new("file", "required"));
            }
            return Err(ApiError::invalid(missing));
        }
    };
    let object = upload.finish().await?;
    let new = NewImport {
        id: object.id.0,
        entity,
        dry_run: form.dry_run,
        mapping: form.mapping,
        upsert_key: form.upsert_key,
        file_name: crm_files::model::clean_name(&name),
    };
    let created = async {
        let mut conn = state.conn().await?;
        Ok::<_, ApiError>(crm_imports::create_import(&mut conn, &actor.0, new).await?)
    }
    .await;
    match created {
        Ok(import) => Ok(HttpResponse::Accepted()
            .insert_header((
                header::LOCATION,
                format!("/api/import-export/imports/{}", import.id),
            ))
            .json(Data { data: import })),
        Err(e) => {
            let storage = crm_imports::import_storage(&state.storage);
            if let Err(e) = storage.remove(object.id).await {
                tracing::warn!(error = %e, "the file of a refused import was not removed");
            }
            Err(e)
        }
    }
}

/// No filters of its own.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportFilters {}

impl ListFilters for ImportFilters {
    const SPEC: ListSpec = ListSpec {
        cursor: true,
        ..ListSpec::PAGED
    };
}

/// The caller's imports, oldest first (`data.import`). Items carry no `errors`: read the
/// import for them.
#[utoipa::path(get, path = "/import-export/imports", tag = "import-export", params(ListQuery<ImportFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Import>, description = "A page; with `cursor`, keyset-paged"),
))]
#[get("/import-export/imports")]
async fn list_imports(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<ImportFilters>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let imports =
        crm_imports::list_imports(&mut conn, &actor.0, &query.list.page, query.list.cursor).await?;
    Ok(listing(imports))
}

/// One of the caller's imports (`data.import`): status, counters and the first 100 row
/// problems (all of them in `errors.csv`).
#[utoipa::path(get, path = "/import-export/imports/{id}", tag = "import-export", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Import>),
))]
#[get("/import-export/imports/{id}")]
async fn get_import(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let import = crm_imports::get_import(&mut conn, &actor.0, *id).await?;
    Ok(HttpResponse::Ok().json(Data { data: import }))
}

/// One CSV line: every field quoted (RFC 4180).
fn csv_line(cells: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push('"');
        line.push_str(&cell.as_ref().replace('"', "\"\""));
        line.push('"');
    }
    line.push_str("\r\n");
    line
}

/// Failed rows read per database round trip while streaming `errors.csv`.
const FAILURES_PER_PAGE: i64 = 1000;

/// The failed rows of one of the caller's imports as CSV (`data.import`): the file's header
/// row plus `error`, then each failed row's cells as they were with what was wrong, in file
/// order. Streamed: a page of rows per database round trip, no connection held in between.
#[utoipa::path(get, path = "/import-export/imports/{id}/errors.csv", tag = "import-export", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, description = "The failed rows", content_type = "text/csv"),
))]
#[get("/import-export/imports/{id}/errors.csv")]
async fn import_errors(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = *id;
    let headers = {
        let mut conn = state.conn().await?;
        crm_imports::service::headers_of(&mut conn, &actor.0, id)
            .await?
            .unwrap_or_default()
    };
    let width = headers.len();
    let first = csv_line(headers.iter().map(String::as_str).chain(["error"]));
    let pool = state.pool.clone();
    let pages = futures_util::stream::try_unfold(Some(0i64), move |after| {
        let pool = pool.clone();
        async move {
            let Some(after) = after else {
                return Ok::<_, ApiError>(None);
            };
            let mut conn = crm_db::pool::get_conn(&pool).await?;
            let rows = crm_imports::failures_page(&mut conn, id, after, FAILURES_PER_PAGE).await?;
            let next = (rows.len() as i64 == FAILURES_PER_PAGE)
                .then(|| rows.last().map(|r| r.0))
                .flatten();
            let mut chunk = String::new();
            for (_, mut cells, problems) in rows {
                cells.resize(width.max(cells.len()), String::new());
                let error = problems
                    .iter()
                    .map(|p| match &p.column {
                        Some(c) => format!("{c}: {}", p.message),
                        None => p.message.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                chunk.push_str(&csv_line(
                    cells.iter().map(String::as_str).chain([error.as_str()]),
                ));
            }
            Ok(Some((Bytes::from(chunk), next)))
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, ApiError>(Bytes::from(first)) })
        .chain(pages);
    Ok(HttpResponse::build(StatusCode::OK)
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"import-{id}-errors.csv\""),
        ))
        .streaming(body))
}
