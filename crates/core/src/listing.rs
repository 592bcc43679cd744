//! What the list services answer: an offset page with a total, or a keyset (cursor) page.

use crate::{CursorPage, Page};

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

    /// The rows, whichever the paging.
    pub fn into_items(self) -> Vec<T> {
        match self {
            Listing::Page(p) => p.items,
            Listing::Cursor(p) => p.items,
        }
    }

    /// The number of matches of an offset page; cursor pages never count.
    pub fn total(&self) -> Option<i64> {
        match self {
            Listing::Page(p) => Some(p.total),
            Listing::Cursor(_) => None,
        }
    }

    /// Converts every row, keeping the paging figures.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listing<U> {
        match self {
            Listing::Page(p) => Listing::Page(p.map(f)),
            Listing::Cursor(p) => Listing::Cursor(p.map(f)),
        }
    }
}
