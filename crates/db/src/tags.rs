//! Keeping the tag registry in step with the tags records carry.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

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
