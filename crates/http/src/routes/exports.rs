//! `GET /api/import-export/export`: every record a list shows, as a file.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use crm_db::AsyncPgConnection;
use crm_exports::{Export, ExportFormat};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::list_query::ListQuery;
use crate::problem::{ApiError, Problem};
use crate::routes::{companies, contacts, deals, tasks};
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(export);
}

/// The export's own parameters; the rest of the query are the list's parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// What to export: `contacts`, `companies`, `deals` or `tasks`.
    pub entity_type: String,
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
}

/// Exports every record the list of `entityType` shows with the same parameters (filters,
/// `q`, `sort`, `deleted`, `cf.` filters; `page`, `limit` and `cursor` are ignored) and the
/// same visibility, custom fields as columns (`data.export` and the list's permission). CSV
/// is streamed as it is read (UTF-8, comma-separated, cells starting with `=` `+` `-` `@`
/// prefixed with `'`); XLSX is written in constant memory, then sent. The headers are the API
/// field names: the file imports back to the same data.
#[utoipa::path(get, path = "/import-export/export", tag = "import-export", params(ExportParams), security(("bearer" = [])), responses(
    (status = 200, description = "The file: CSV, or XLSX with `format=xlsx`", content((String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")), headers(("Content-Disposition" = String))),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "A bad parameter"),
    (status = 503, body = Problem, content_type = "application/problem+json", description = "`server_busy`: too many exports are running"),
))]
#[get("/import-export/export")]
async fn export(
    state: web::Data<AppState>,
    actor: crate::extract::AuthActor,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let (own, rest): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(k, _)| k == "entityType" || k == "format");
    let value = |name: &str| own.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let format = match value("format").unwrap_or("csv") {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => return Err(bad("format", "csv or xlsx")),
    };
    let Some(entity) = value("entityType").map(str::to_owned) else {
        return Err(bad("entityType", "required"));
    };
    // Paging means nothing here: every row is exported.
    let rest: Vec<_> = rest
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "page" | "limit" | "cursor"))
        .collect();
    let rest = serde_urlencoded::to_string(&rest)
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let what = {
        let mut conn = state.conn().await?;
        export_request(&mut conn, &entity, &rest).await?
    };
    let name = what.name();
    let Ok(slot) = state.exports.slots.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "server_busy",
            "too many exports are running; retry later",
        ));
    };
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let (out, mut body) = tokio::sync::mpsc::channel(4);
    let task = crm_exports::export(
        state.exports.database_url.clone(),
        state.pool.clone(),
        actor.0.clone(),
        what,
        format,
        std::env::temp_dir().join("crm-exports"),
        crm_exports::Sink {
            ready: ready_tx,
            out,
        },
    );
    actix_web::rt::spawn(async move {
        task.await;
        drop(slot);
    });
    let started = ready
        .await
        .map_err(|_| ApiError::from_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR))?;
    let size = started?;
    let body = futures_util::stream::poll_fn(move |cx| body.poll_recv(cx));
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "private, no-store"));
    Ok(match (format, size) {
        (ExportFormat::Xlsx, Some(size)) => res
            .insert_header((
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.xlsx\""),
            ))
            .body(SizedStream::new(size, body)),
        _ => res
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .streaming(body),
    })
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::invalid(vec![crm_core::FieldError::new(field, message)])
}

/// What an export of `entity` with the list's parameters `query` (URL-encoded) reads: the
/// list's own input, checked as the list checks it. The command line's `export` uses it too.
pub async fn export_request(
    conn: &mut AsyncPgConnection,
    entity: &str,
    query: &str,
) -> Result<Export, ApiError> {
    Ok(match entity {
        "contacts" => Export::Contacts(contacts::list_input(conn, ListQuery::parse(query)?).await?),
        "companies" => {
            Export::Companies(companies::list_input(conn, ListQuery::parse(query)?).await?)
        }
        "deals" => Export::Deals(deals::list_input(conn, ListQuery::parse(query)?).await?),
        "tasks" => Export::Tasks(tasks::list_input(conn, ListQuery::parse(query)?).await?),
        _ => {
            return Err(bad(
                "entityType",
                "one of contacts, companies, deals, tasks",
            ));
        }
    })
}
