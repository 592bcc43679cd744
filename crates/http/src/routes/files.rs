//! `/api/files`: files attached to deals, contacts, companies, tasks and comments. Uploads
//! stream into storage (never whole in memory) and hold no database connection while the
//! bytes arrive; downloads stream back with `Content-Length` and byte ranges.

use actix_multipart::Multipart;
use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse, ResponseError, delete, get, post, web};
use crm_core::{EntityRef, FieldError, FileId, Permission};
use crm_db::AsyncPgConnection;
use crm_files::{FileError, FileHost, StoredFile};
use futures_util::TryStreamExt;
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::envelope::{Data, Paged, created, listing, ok};
use crate::extract::AuthActor;
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::multipart::{
    MAX_PARTS, bad_form, check_declared_length, multipart_error, receive, text_field,
};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::visibility::ensure_visible;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_files)
        .service(upload_file)
        .service(get_file)
        .service(download_file)
        .service(delete_file);
}

/// The record of `GET /api/files`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileFilters {
    /// Kind of the record.
    pub entity_type: FileHost,
    /// Id of the record.
    pub entity_id: Uuid,
}

impl ListFilters for FileFilters {
    const SPEC: ListSpec = ListSpec {
        cursor: true,
        ..ListSpec::PAGED
    };
}

/// The form of `POST /api/files` (`multipart/form-data`; the fields in any order).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct FileUpload {
    /// The content: at most `CRM_MAX_UPLOAD_MB` MiB (default 50; the running server's limit
    /// in bytes is this property's `maxLength`), answered 413 as soon as it is crossed. Its
    /// type is told from the bytes; the part's `Content-Type` is ignored. The name is taken
    /// from the part's `filename` (or `filename*`), without any path.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Kind of the record to attach to.
    entity_type: FileHost,
    /// Id of a live record the caller may see (for a comment: the record it is on).
    entity_id: Uuid,
}

/// States the running server's upload limit as the `maxLength` of the form's `file`.
pub(crate) fn state_upload_limit(api: &mut utoipa::openapi::OpenApi, limit: u64) {
    use utoipa::openapi::{RefOr, Schema};
    let form = api
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("FileUpload"));
    let Some(RefOr::T(Schema::Object(form))) = form else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(file))) = form.properties.get_mut("file") {
        file.max_length = usize::try_from(limit).ok();
    }
}

/// What one host reference is, parsed from the form.
struct Host {
    kind: FileHost,
    id: Uuid,
}

fn host_entity(host: &Host) -> EntityRef {
    EntityRef::new(host.kind.kind(), host.id)
}

fn parent(file: &StoredFile) -> EntityRef {
    EntityRef::new(file.entity_type.kind(), file.entity_id)
}

/// Fields other than `file` are short.
const MAX_TEXT_FIELD: usize = 64;

/// Attaches a file to a record (`files.write`; `multipart/form-data` with `file`,
/// `entityType`, `entityId`). The record must be live and visible (else 422
/// `unknown_entity`); its timeline gets `file.uploaded`, its room the event. `Idempotency-Key`
/// does not apply to uploads.
#[utoipa::path(post, path = "/files", tag = "files", request_body(content = FileUpload, content_type = "multipart/form-data"), security(("bearer" = [])), responses(
    (status = 201, body = Data<StoredFile>, headers(("Location" = String))),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "A missing, repeated or unknown form field, or a malformed form"),
    (status = 413, body = Problem, content_type = "application/problem+json", description = "`payload_too_large`: the file is larger than the limit"),
    (status = 415, body = Problem, content_type = "application/problem+json", description = "Not `multipart/form-data`"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_entity`"),
))]
#[post("/files")]
async fn upload_file(
    state: web::Data<AppState>,
    actor: AuthActor,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    actor
        .0
        .require(Permission::FilesWrite)
        .map_err(FileError::from)?;
    check_declared_length(&req, state.http.max_upload_bytes)?;
    let mut form = Multipart::new(req.headers(), payload);
    let (mut kind, mut id, mut file) = (None, None, None);
    let mut parts = 0;
    let outcome: Result<(), ApiError> = async {
        while let Some(mut field) = form.try_next().await.map_err(multipart_error)? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(bad_form("file", "too many form fields"));
            }
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "entityType" if kind.is_none() => {
                    let value = text_field(&mut field, "entityType", MAX_TEXT_FIELD).await?;
                    kind = Some(value.parse::<FileHost>().map_err(|_| {
                        bad_form("entityType", "one of deal, contact, company, task, comment")
                    })?);
                }
                "entityId" if id.is_none() => {
                    let value = text_field(&mut field, "entityId", MAX_TEXT_FIELD).await?;
                    id = Some(
                        value
                            .parse::<Uuid>()
                            .map_err(|_| bad_form("entityId", "must be a UUID"))?,
                    );
                }
                "file" if file.is_none() => {
                    file = Some(
                        receive(&state.storage, state.http.max_upload_bytes, &mut field).await?,
                    );
                }
                "entityType" | "entityId" | "file" => {
                    return Err(bad_form(&name, "given more than once"));
                }
                _ => return Err(bad_form(&name, "unknown field")),
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        if let Some((upload, _)) = file {
            upload.abort().await;
        }
        return Err(e);
    }
    let mut missing = Vec::new();
    for (name, absent) in [
        ("file", file.is_none()),
        ("entityType", kind.is_none()),
        ("entityId", id.is_none()),
    ] {
        if absent {
            missing.push(FieldError::new(name, "required"));
        }
    }
    let (Some(kind), Some(id)) = (kind, id) else {
        if let Some((upload, _)) = file {
            upload.abort().await;
        }
        return Err(ApiError::invalid(missing));
    };
    let Some((upload, name)) = file else {
        return Err(ApiError::invalid(missing));
    };
    let object = upload.finish().await?;
    let host = Host { kind, id };
    match attach(&state, &actor, &host, &name, &object).await {
        Ok(stored) => {
            let location = format!("/api/files/{}", stored.id);
            Ok(created(location, stored, None))
        }
        Err(e) => {
            if let Err(e) = state.storage.remove(object.id).await {
                tracing::warn!(error = %e, "the object of a refused upload was not removed");
            }
            Err(e)
        }
    }
}

async fn attach(
    state: &AppState,
    actor: &AuthActor,
    host: &Host,
    name: &str,
    object: &crm_files::StoredObject,
) -> Result<StoredFile, ApiError> {
    let mut conn = state.conn().await?;
    if let Err(e) = ensure_visible(&mut conn, &actor.0, host_entity(host)).await {
        // A record the actor may not see is reported like a missing one.
        return Err(if e.status() == StatusCode::NOT_FOUND {
            FileError::UnknownEntity(host.kind.as_str(), host.id).into()
        } else {
            e
        });
    }
    Ok(crm_files::attach(&mut conn, &actor.0, host.kind, host.id, name, object).await?)
}

/// The files on a record, oldest first (`files.read` and the right to see the record). With
/// `cursor` the answer is keyset-paged (`meta.nextCursor`).
#[utoipa::path(get, path = "/files", tag = "files", params(ListQuery<FileFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<StoredFile>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such record, or not visible"),
))]
#[get("/files")]
async fn list_files(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<FileFilters>,
) -> Result<HttpResponse, ApiError> {
    let (kind, id) = (query.filters.entity_type, query.filters.entity_id);
    let mut conn = state.conn().await?;
    ensure_visible(&mut conn, &actor.0, EntityRef::new(kind.kind(), id)).await?;
    let files = crm_files::list_files(
        &mut conn,
        &actor.0,
        kind,
        id,
        &query.list.page,
        query.list.cursor,
    )
    .await?;
    Ok(listing(files))
}

async fn visible_file(
    conn: &mut AsyncPgConnection,
    actor: &AuthActor,
    id: FileId,
) -> Result<StoredFile, ApiError> {
    let file = crm_files::get_file(conn, &actor.0, id).await?;
    ensure_visible(conn, &actor.0, parent(&file))
        .await
        .map_err(|e| {
            // A file on a record out of sight does not exist for the caller.
            if e.status() == StatusCode::NOT_FOUND {
                FileError::NotFound(id).into()
            } else {
                e
            }
        })?;
    Ok(file)
}

/// Reads a file's record (`files.read` and the right to see its record).
#[utoipa::path(get, path = "/files/{id}", tag = "files", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<StoredFile>),
))]
#[get("/files/{id}")]
async fn get_file(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<FileId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    Ok(ok(visible_file(&mut conn, &actor, *id).await?))
}

/// `Content-Disposition: attachment` with an ASCII `filename` and the exact name in
/// `filename*` (RFC 6266).
fn disposition(name: &str) -> ContentDisposition {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii)];
    if !name.is_ascii() {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".to_owned()),
            language_tag: None,
            value: name.as_bytes().to_vec(),
        }));
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}

/// What a `Range` header asks of a file of `size` bytes: `Ok(None)` the whole file (no
/// header, one we may ignore, several ranges), `Ok(Some(range))` one range, `Err` 416.
fn wanted_range(
    req: &HttpRequest,
    size: u64,
    etag: &str,
) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(value) = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    // A range of another version of the content is not what the client wants.
    if let Some(if_range) = req.headers().get(header::IF_RANGE)
        && if_range.to_str().ok() != Some(etag)
    {
        return Ok(None);
    }
    use http_range_header::RangeUnsatisfiableError as E;
    let ranges = match http_range_header::parse_range_header(value) {
        Ok(parsed) => parsed.validate(size),
        Err(E::Invalid(_)) => return Ok(None),
        Err(e) => Err(e),
    };
    match ranges {
        Ok(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            Ok(Some(*r.start()..r.end() + 1))
        }
        Ok(_) => Ok(None),
        Err(E::Invalid(_)) => Ok(None),
        Err(_) => Err(()),
    }
}

/// Downloads a file (`files.read` and the right to see its record): its bytes with
/// `Content-Length`, `Content-Disposition: attachment`, the stored (sniffed) type and
/// `X-Content-Type-Options: nosniff`. One byte range (`Range: bytes=…`) answers 206; a
/// range past the end 416; several ranges the whole file.
#[utoipa::path(get, path = "/files/{id}/download", tag = "files", params(("id" = Uuid, Path), ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`")), security(("bearer" = [])), responses(
    (status = 200, description = "The content", content_type = "application/octet-stream", headers(("Content-Disposition" = String), ("ETag" = String, description = "The sha256 of the content, quoted"))),
    (status = 206, description = "The requested range", content_type = "application/octet-stream", headers(("Content-Range" = String))),
    (status = 416, body = Problem, content_type = "application/problem+json", description = "The range is outside the file"),
))]
#[get("/files/{id}/download")]
async fn download_file(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<FileId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // The connection goes back to the pool before the bytes are streamed.
    let file = visible_file(&mut *state.conn().await?, &actor, *id).await?;
    let size = u64::try_from(file.size).unwrap_or(0);
    let etag = format!("\"{}\"", file.sha256);
    let range = match wanted_range(&req, size, &etag) {
        Ok(range) => range,
        Err(()) => {
            let mut res = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {size} bytes"),
            )
            .error_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let mut res = HttpResponse::build(if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    });
    // The whole object is read as a stream of its own when no range is asked (an empty file
    // has no range to ask for).
    let read = state.storage.read(file.id, range.clone()).await?;
    if let Some(r) = &range {
        res.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", r.start, r.end - 1),
        ));
    }
    res.insert_header((header::CONTENT_TYPE, file.content_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, disposition(&file.file_name)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; frame-ancestors 'none'",
        ))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    let length = read.range.end - read.range.start;
    Ok(res.body(SizedStream::new(length, read.body)))
}

/// Deletes a file (`files.delete` and the right to see its record); its record's timeline
/// gets `file.deleted`. The stored content is removed after the row.
#[utoipa::path(delete, path = "/files/{id}", tag = "files", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
))]
#[delete("/files/{id}")]
async fn delete_file(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<FileId>,
) -> Result<HttpResponse, ApiError> {
    let removed = {
        let mut conn = state.conn().await?;
        visible_file(&mut conn, &actor, *id).await?;
        crm_files::delete_file(&mut conn, &actor.0, *id).await?
    };
    if let Err(e) = state.storage.remove(removed.id).await {
        // The sweep of orphans removes it later.
        tracing::warn!(error = %e, file = %removed.id, "a deleted file's object was not removed");
    }
    Ok(HttpResponse::NoContent().finish())
}
