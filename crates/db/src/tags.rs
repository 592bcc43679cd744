//! Keeping the tag registry in step with the tags records carry.

use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Tables whose records carry tags (`text[]` column `tags`).
pub const TAGGED: &[&str] = &["contacts", "companies", "deals", "tasks"];

/// `<table>.tags` holds `tag`, compared case-insensitively like the registry does; served by
/// the GIN index `<table>_tags_idx` on `crm_lower_tags(tags)`. `table` must be one of
/// [`TAGGED`] (it is spliced into the SQL).
pub fn carries_tag<QS>(
    table: &'static str,
    tag: &str,
) -> Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>> {
    debug_assert!(TAGGED.contains(&table));
    Box::new(
        diesel::dsl::sql::<Bool>(&format!("crm_lower_tags({table}.tags) @> ARRAY[lower("))
            .bind::<Text, _>(tag.to_owned())
            .sql(")]"),
    )
}

/// Registers every name not yet in the registry (case-insensitively); call it in the
/// transaction that writes the record's tags.
pub async fn ensure_registered(conn: &mut AsyncPgConnection, names: &[String]) -> QueryResult<()> {
    if names.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "INSERT INTO tags (id, name) SELECT gen_random_uuid(), n FROM unnest($1::text[]) AS n \
         ON CONFLICT ((lower(name))) DO NOTHING",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(names)
    .execute(conn)
    .await?;
    Ok(())
}
