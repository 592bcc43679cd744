//! One page of a record list, offset- or keyset-paged, read the same way for every record
//! table.

/// Loads one [`crm_core::Listing`] of rows of `$table` (a table with `id` and `created_at`)
/// as `$row`:
///
/// - with a cursor (`$cursor` is `Some(after)`): keyset-paged on `(created_at, id)` ascending
///   after `after` (`None`: the first page), reading one row more than the limit to know
///   whether another page follows; cursor pages never count;
/// - without one: the offset page of `$sorted` (the filtered query `$q` with the list's sort
///   applied; ties are broken by id) and the `total` of `$filtered`.
///
/// `$filtered` is evaluated once per query it builds. A macro because diesel's boxed queries
/// are typed by their table; errors convert into the caller's error type with `?`.
#[macro_export]
macro_rules! load_listing {
    ($conn:expr, $table:ident, $row:ty, $page:expr, $cursor:expr, $filtered:expr, |$q:ident| $sorted:expr $(,)?) => {{
        use ::diesel::prelude::*;
        use ::diesel_async::RunQueryDsl;
        use $crate::schema::$table;
        let page: &::crm_core::PageRequest = $page;
        let limit = page.limit;
        let cursor: Option<Option<::crm_core::Cursor>> = $cursor;
        match cursor {
            Some(after) => {
                let mut query = $filtered;
                if let Some(c) = after {
                    query = query.filter(
                        $table::created_at
                            .gt(c.t)
                            .or($table::created_at.eq(c.t).and($table::id.gt(c.id))),
                    );
                }
                let rows: Vec<$row> = query
                    .order(($table::created_at.asc(), $table::id.asc()))
                    .limit(limit + 1)
                    .select(<$row>::as_select())
                    .load($conn)
                    .await?;
                ::crm_core::Listing::Cursor(::crm_core::CursorPage::from_rows(rows, limit, |r| {
                    ::crm_core::Cursor {
                        t: r.created_at,
                        id: r.id.into(),
                    }
                }))
            }
            None => {
                let total: i64 = $filtered.count().get_result($conn).await?;
                let $q = $filtered;
                let rows: Vec<$row> = $sorted
                    .then_order_by($table::id.asc())
                    .select(<$row>::as_select())
                    .limit(limit)
                    .offset(page.offset())
                    .load($conn)
                    .await?;
                ::crm_core::Listing::Page(::crm_core::Page {
                    items: rows,
                    page: page.page,
                    limit,
                    total,
                })
            }
        }
    }};
}
