//! Offset paging as the list endpoints accept it (`page`, `limit`).

use serde::Serialize;

use crate::error::FieldError;

/// Largest page a list endpoint returns.
pub const MAX_LIMIT: i64 = 100;
/// Page size when the client names none.
pub const DEFAULT_LIMIT: i64 = 50;

/// A validated page request: `page >= 1`, `1 <= limit <= 100`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// One-based page number.
    pub page: i64,
    /// Rows per page.
    pub limit: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl PageRequest {
    /// Validates the optional query values, naming the offending field on error.
    pub fn new(page: Option<i64>, limit: Option<i64>) -> Result<Self, FieldError> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=1_000_000).contains(&page) {
            return Err(FieldError::new("page", "must be between 1 and 1000000"));
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new("limit", "must be between 1 and 100"));
        }
        Ok(Self { page, limit })
    }

    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.limit
    }

    /// This page of a list held in full (a short registry such as the tags or the custom
    /// fields), with the list's length as the total.
    pub fn slice<T>(&self, all: Vec<T>) -> Page<T> {
        let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let skip = usize::try_from(self.offset()).unwrap_or(usize::MAX);
        let take = usize::try_from(self.limit).unwrap_or(0);
        Page {
            items: all.into_iter().skip(skip).take(take).collect(),
            page: self.page,
            limit: self.limit,
            total,
        }
    }
}

/// One page of a list with the total number of matching rows.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// The page that was asked for.
    pub page: i64,
    /// The page size that was asked for.
    pub limit: i64,
    /// All matching rows, over all pages.
    pub total: i64,
}

impl<T> Page<T> {
    /// Converts every item, keeping the paging figures.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            limit: self.limit,
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_first_page_of_fifty() {
        let p = PageRequest::new(None, None).unwrap();
        assert_eq!((p.page, p.limit, p.offset()), (1, 50, 0));
    }

    #[test]
    fn limit_above_one_hundred_is_refused() {
        assert_eq!(
            PageRequest::new(None, Some(101)).unwrap_err().field,
            "limit"
        );
        assert_eq!(PageRequest::new(Some(0), None).unwrap_err().field, "page");
        assert_eq!(PageRequest::new(Some(3), Some(10)).unwrap().offset(), 20);
    }
}
