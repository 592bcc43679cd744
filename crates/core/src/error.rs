//! What every domain error tells the HTTP layer: a kind (→ status), a stable code, field errors.

use serde::Serialize;

/// Class of failure. `crm-http` maps each kind to one status code, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed input or an invalid field value (400).
    Invalid,
    /// Missing or invalid credentials (401).
    Unauthorized,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// The record does not exist or is not visible (404).
    NotFound,
    /// Conflicts with the current state: duplicate, in use, last admin (409).
    Conflict,
    /// `If-Match` does not match the record's version (412).
    PreconditionFailed,
    /// Well-formed but refers to something missing or unfitting (422).
    Unprocessable,
    /// The request is larger than a limit allows (413).
    TooLarge,
    /// Too many attempts (429).
    RateLimited,
    /// A dependency such as the database is unreachable (503).
    Unavailable,
    /// A bug or an unexpected failure (500); details are logged, never sent.
    Internal,
}

/// One invalid field: `field` is the API (camelCase, dotted) path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// API path of the field, e.g. `email` or `customFields.budget`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Converts a garde report, turning Rust `snake_case` paths into API `camelCase` ones.
    pub fn from_garde(report: &garde::Report) -> Vec<Self> {
        report
            .iter()
            .map(|(path, error)| {
                Self::new(
                    camel_case_path(&path.to_string()),
                    error.message().to_string(),
                )
            })
            .collect()
    }
}

fn camel_case_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Implemented by every crate's error enum so the HTTP layer can answer without knowing it.
pub trait DomainError: std::error::Error {
    /// The class of failure.
    fn kind(&self) -> ErrorKind;
    /// Stable `snake_case` code for clients, e.g. `duplicate_email`.
    fn code(&self) -> &'static str;
    /// Invalid fields, for `Invalid` errors.
    fn field_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
    /// Seconds to wait before retrying, for `RateLimited` and some `Unavailable` errors.
    fn retry_after(&self) -> Option<u64> {
        None
    }
    /// Whether the `Display` text may be sent to the client. By default not for `Internal` and
    /// `Unavailable` errors, whose text may name SQL or pool internals; an error that is
    /// written for clients (a full queue, say) says so.
    fn detail_is_public(&self) -> bool {
        !matches!(self.kind(), ErrorKind::Internal | ErrorKind::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garde_paths_become_camel_case() {
        assert_eq!(camel_case_path("first_name"), "firstName");
        assert_eq!(camel_case_path("items[0].expires_at"), "items[0].expiresAt");
    }
}
