//! The unique keys an import has seen (`import_keys`): the first row with a key claims it, a
//! later row with the same key is a duplicate inside the file, whichever batch either is in.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Claims `keys` for `import`; returns the ones not claimed before (by earlier batches).
pub async fn claim(
    conn: &mut AsyncPgConnection,
    import: Uuid,
    keys: &[String],
) -> QueryResult<HashSet<String>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
    }
    let fresh: Vec<Key> = diesel::sql_query(
        "INSERT INTO import_keys (import_id, key) SELECT $1, k FROM unnest($2::text[]) AS k \
         ON CONFLICT DO NOTHING RETURNING key",
    )
    .bind::<diesel::sql_types::Uuid, _>(import)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(keys)
    .load(conn)
    .await?;
    Ok(fresh.into_iter().map(|k| k.key).collect())
}
