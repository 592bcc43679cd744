//! Opaque keyset cursors: `meta.nextCursor` encodes the sort key and id of the last row, so the
//! next page starts right after it however many rows were added before it meanwhile.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::FieldError;

/// Position after the last row of a page ordered by a timestamp and the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Timestamp sort key of the last row.
    pub t: DateTime<Utc>,
    /// Id of the last row (tie breaker).
    pub id: Uuid,
}

impl Cursor {
    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a client's cursor; anything else is an error naming `cursor`.
    pub fn decode(raw: &str) -> Result<Self, FieldError> {
        URL_SAFE_NO_PAD
            .decode(raw.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| FieldError::new("cursor", "is not a cursor returned by this API"))
    }
}

/// One page of a keyset-paged list.
#[derive(Debug, Clone)]
pub struct CursorPage<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
    /// Page size asked for.
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            t: Utc::now(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert_eq!(Cursor::decode("not a cursor").unwrap_err().field, "cursor");
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"{}")).is_err());
    }
}
