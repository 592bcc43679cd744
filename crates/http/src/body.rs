//! JSON request bodies whose errors name the field: a missing, unknown or mistyped field is
//! answered 400 `invalid_body` with `errors: [{field, message}]`, the field as its JSON path
//! (`contactId`, `items[2].amount`), exactly like an invalid value, so a form can mark it.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use crm_core::FieldError;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// A JSON body of type `T` (in place of `actix_web::web::Json`).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The parsed body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        // The body size limit is the `PayloadConfig` of the app (`CRM_MAX_BODY_BYTES`).
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON (Content-Type: application/json)",
                ));
            }
            let bytes = bytes.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(status, "payload_too_large", e.to_string())
                } else {
                    ApiError::bad_request("invalid_body", e.to_string())
                }
            })?;
            parse_slice(&bytes).map(Json)
        })
    }
}

/// Parses a JSON document; errors name their path.
pub fn parse_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(body_error)?;
    de.end()
        .map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?;
    Ok(value)
}

/// Converts an already parsed JSON value (a batch item); errors name their path.
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(body_error)
}

fn body_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::bad_request("malformed_json", inner.to_string());
    }
    let path = err.path().to_string();
    let message = without_position(inner);
    // serde reports a missing field at its parent (an unknown one is already in the path): the
    // field itself is the one to name. The wording is serde's own and fixed: "missing field `x`".
    let (field, message) = match named_field(&message) {
        Some(name) => (join(&path, name), message.clone()),
        None => (
            if path == "." {
                String::new()
            } else {
                path.clone()
            },
            message.clone(),
        ),
    };
    let mut e = ApiError::bad_request("invalid_body", message.clone());
    let field = if field.is_empty() {
        "body".to_owned()
    } else {
        field
    };
    e.set_errors(vec![FieldError::new(field, message)]);
    e
}

/// serde_json's message without its " at line L column C" suffix (the path says where).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.line() == 0 {
        return text;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix)
        .map(str::to_owned)
        .unwrap_or(text)
}

fn named_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() || path == "." {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        full_name: String,
        contact_id: Option<uuid::Uuid>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Batch {
        items: Vec<Item>,
    }

    fn field_of(body: &str) -> (String, String) {
        let e = parse_slice::<Batch>(body.as_bytes()).unwrap_err();
        let p = e.problem();
        (
            p.code,
            p.errors
                .first()
                .map(|f| f.field.clone())
                .unwrap_or_default(),
        )
    }

    #[test]
    fn errors_name_the_json_path_of_the_field() {
        assert_eq!(
            field_of(r#"{"items": [{"fullName": "a"}, {}]}"#),
            ("invalid_body".into(), "items[1].fullName".into())
        );
        assert_eq!(
            field_of(r#"{"items": [{"fullName": "a", "contactId": ""}]}"#),
            ("invalid_body".into(), "items[0].contactId".into())
        );
        assert_eq!(
            field_of(r#"{"items": [{"fullName": "a", "colour": 1}]}"#),
            ("invalid_body".into(), "items[0].colour".into())
        );
        assert_eq!(field_of(r#"{}"#), ("invalid_body".into(), "items".into()));
        assert_eq!(field_of(r#""x""#), ("invalid_body".into(), "body".into()));
        assert_eq!(field_of(r#"{"items": ["#).0, "malformed_json");
        assert_eq!(field_of(r#"{"items": []} x"#).0, "malformed_json");
    }

    #[test]
    fn messages_lose_the_position_but_keep_the_reason() {
        let e = parse_slice::<Batch>(br#"{"items": [{"fullName": 5}]}"#).unwrap_err();
        let p = e.problem();
        assert_eq!(p.errors[0].field, "items[0].fullName");
        assert!(p.errors[0].message.starts_with("invalid type: integer `5`"));
        assert!(
            !p.errors[0].message.contains("line"),
            "{}",
            p.errors[0].message
        );
    }
}
