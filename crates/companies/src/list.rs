//! What the list services answer: an offset page with a total, or a keyset (cursor) page.

use crm_core::{Cursor, CursorPage, Page};

/// A page of a list, offset- or keyset-paged depending on whether a cursor was asked for.
#[derive(Debug, Clone)]
pub enum Listing<T> {
    /// `page`/`limit` paging with the total number of matches.
    Page(Page<T>),
    /// Keyset paging on `(createdAt, id)` with the next cursor.
    Cursor(CursorPage<T>),
}

impl<T> Listing<T> {
    /// The rows, whichever the paging.
    pub fn items(&self) -> &[T] {
        match self {
            Listing::Page(p) => &p.items,
            Listing::Cursor(p) => &p.items,
        }
    }

    /// Converts every row, keeping the paging figures.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Listing<U> {
        match self {
            Listing::Page(p) => Listing::Page(p.map(f)),
            Listing::Cursor(p) => Listing::Cursor(CursorPage {
                items: p.items.into_iter().map(&mut f).collect(),
                next_cursor: p.next_cursor,
                limit: p.limit,
            }),
        }
    }
}

/// Turns `limit + 1` loaded rows into a cursor page: the extra row only tells that there is
/// a next page.
pub fn cursor_page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> CursorPage<T> {
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
