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

impl<T> CursorPage<T> {
    /// The page of `limit + 1` loaded rows (the extra one only tells that there is a next
    /// page); `key` gives a row's position, the next cursor is the last kept row's.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = if more {
            rows.last().map(|r| key(r).encode())
        } else {
            None
        };
        CursorPage {
            items: rows,
            next_cursor,
            limit,
        }
    }

    /// Converts every row, keeping the paging figures.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> CursorPage<U> {
        CursorPage {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            limit: self.limit,
        }
    }
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

    #[test]
    fn a_page_of_limit_plus_one_rows_points_at_its_last_kept_row() {
        let key = |n: &u128| Cursor {
            t: chrono::DateTime::UNIX_EPOCH,
            id: Uuid::from_u128(*n),
        };
        let full = CursorPage::from_rows(vec![1, 2, 3], 2, key);
        assert_eq!(full.items, [1, 2]);
        assert_eq!(
            Cursor::decode(full.next_cursor.as_deref().unwrap()).unwrap(),
            key(&2)
        );
        let last = CursorPage::from_rows(vec![1, 2], 2, key).map(|n| n * 10);
        assert_eq!(
            (last.items, last.next_cursor, last.limit),
            (vec![10, 20], None, 2)
        );
    }
}
