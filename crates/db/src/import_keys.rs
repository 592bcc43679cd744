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

/// Why a row of an import was set aside for its unique key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// An earlier row of the file has the key.
    EarlierRow,
    /// A live record has it.
    Exists,
}

/// Keeps the rows whose key (if any) neither an earlier row of the file nor a live record
/// (`existing`) has; the others come back with why. The file's own duplicates are told first:
/// in a real run the earlier row's record exists by now, in a dry run it does not, and both
/// must report the same.
pub async fn sort_out<T>(
    conn: &mut AsyncPgConnection,
    import: Uuid,
    rows: Vec<(u64, Option<String>, T)>,
    existing: &HashSet<String>,
) -> QueryResult<(Vec<(u64, T)>, Vec<(u64, Clash)>)> {
    let keys: Vec<String> = rows.iter().filter_map(|(_, k, _)| k.clone()).collect();
    let mut fresh = claim(conn, import, &keys).await?;
    let (mut kept, mut clashes) = (Vec::with_capacity(rows.len()), Vec::new());
    for (line, key, row) in rows {
        match key {
            None => kept.push((line, row)),
            Some(key) if !fresh.remove(&key) => clashes.push((line, Clash::EarlierRow)),
            Some(key) if existing.contains(&key) => clashes.push((line, Clash::Exists)),
            Some(_) => kept.push((line, row)),
        }
    }
    Ok((kept, clashes))
}
