//! Reading `multipart/form-data` uploads (files, imports): short text fields, the file part
//! streamed into storage as it arrives, and the errors of malformed forms.

use actix_multipart::Field;
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header;
use crm_core::FieldError;
use crm_files::{FileError, Storage, Upload};
use futures_util::TryStreamExt;

use crate::problem::ApiError;

/// More parts than this is not one of our forms.
pub const MAX_PARTS: usize = 8;
/// Room for the multipart framing and text fields around the file in `Content-Length`.
const FORM_OVERHEAD: u64 = 64 * 1024;

/// 400 `validation_failed` naming one form field.
pub fn bad_form(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(vec![FieldError::new(field, message)])
}

/// 415 for a body that is not multipart, 400 for a malformed one.
pub fn multipart_error(e: actix_multipart::MultipartError) -> ApiError {
    use actix_multipart::MultipartError as M;
    match e {
        M::ContentTypeMissing | M::ContentTypeParse | M::ContentTypeIncompatible => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be multipart/form-data",
        ),
        other => ApiError::bad_request("malformed_multipart", other.to_string()),
    }
}

/// 413 at once when the declared length already exceeds `limit` (plus the form's framing).
pub fn check_declared_length(req: &HttpRequest, limit: u64) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(FORM_OVERHEAD)) {
        return Err(FileError::TooLarge(limit).into());
    }
    Ok(())
}

/// A text field of at most `max` bytes, trimmed.
pub async fn text_field(field: &mut Field, name: &str, max: usize) -> Result<String, ApiError> {
    let bytes = field
        .bytes(max)
        .await
        .map_err(|_| bad_form(name, format!("at most {max} bytes")))?
        .map_err(multipart_error)?;
    String::from_utf8(bytes.to_vec())
        .map(|s| s.trim().to_owned())
        .map_err(|_| bad_form(name, "must be UTF-8 text"))
}

/// The client's name for the file: `filename*` (RFC 5987, UTF-8) over `filename`.
fn client_name(field: &Field) -> String {
    let Some(cd) = field.content_disposition() else {
        return String::new();
    };
    if let Some(ext) = cd.get_filename_ext()
        && let Ok(name) = String::from_utf8(ext.value.clone())
    {
        return name;
    }
    cd.get_filename().unwrap_or_default().to_owned()
}

/// Streams a file part into `storage`, at most `limit` bytes (413 as soon as it is crossed);
/// the upload and the client's name for the file.
pub async fn receive(
    storage: &Storage,
    limit: u64,
    field: &mut Field,
) -> Result<(Upload, String), ApiError> {
    let name = client_name(field);
    let mut upload = Upload::begin(storage, limit);
    loop {
        let chunk = match field.try_next().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                upload.abort().await;
                return Err(multipart_error(e));
            }
        };
        if let Err(e) = upload.write(chunk).await {
            upload.abort().await;
            return Err(e.into());
        }
    }
    Ok((upload, name))
}
