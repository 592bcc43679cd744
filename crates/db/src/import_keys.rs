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

/// How a record crate writes the checked rows of an import batch.
pub trait BatchWriter {
    /// A checked row.
    type Row: Clone;
    /// The crate's error.
    type Error: From<diesel::result::Error> + crm_core::DomainError;

    /// Inserts the rows set-based: how many were written.
    fn insert(
        &self,
        conn: &mut AsyncPgConnection,
        rows: Vec<(u64, Self::Row)>,
    ) -> impl Future<Output = Result<u64, Self::Error>> + Send;

    /// The field errors of a row refused for a unique value taken (a conflict: an e-mail, a
    /// name, a unique custom field's value); `None` for other failures.
    fn refused(e: &Self::Error) -> Option<Vec<crm_core::FieldError>> {
        use crm_core::{DomainError, ErrorKind};
        if e.kind() != ErrorKind::Conflict {
            return None;
        }
        let mut fields = e.field_errors();
        if fields.is_empty() {
            fields.push(crm_core::FieldError::new("row", e.to_string()));
        }
        Some(fields)
    }
}

/// Registers the tags of rows about to be written, each once.
pub async fn register_tags<'a>(
    conn: &mut AsyncPgConnection,
    tags: impl IntoIterator<Item = &'a String>,
) -> QueryResult<()> {
    let mut tags: Vec<String> = tags.into_iter().cloned().collect();
    tags.sort_unstable();
    tags.dedup();
    crate::tags::ensure_registered(conn, &tags).await
}

/// Runs the writer on `rows` inside a savepoint, rolled back again for a dry run: how many
/// rows it wrote (or would have).
async fn attempt<W: BatchWriter>(
    conn: &mut AsyncPgConnection,
    writer: &W,
    rows: Vec<(u64, W::Row)>,
    dry_run: bool,
) -> Result<u64, W::Error> {
    use diesel_async::{AnsiTransactionManager, TransactionManager};
    // The savepoint by hand: diesel-async's `transaction` wants a `Send` closure, which a
    // generic writer's future cannot name.
    AnsiTransactionManager::begin_transaction(conn).await?;
    let outcome = writer.insert(conn, rows).await;
    match outcome {
        Ok(n) if !dry_run => {
            AnsiTransactionManager::commit_transaction(conn).await?;
            Ok(n)
        }
        outcome => {
            AnsiTransactionManager::rollback_transaction(conn).await?;
            outcome
        }
    }
}

/// Writes an import's checked rows set-based (in a savepoint, undone for a dry run, so both
/// report alike). When the batch hits a unique value taken, the rows go one at a time so only
/// the offending ones are refused. Returns the rows written and the refused ones.
pub async fn write_rows<W: BatchWriter>(
    conn: &mut AsyncPgConnection,
    writer: &W,
    rows: Vec<(u64, W::Row)>,
    dry_run: bool,
) -> Result<(u64, Vec<(u64, Vec<crm_core::FieldError>)>), W::Error> {
    let mut failures = Vec::new();
    match attempt(conn, writer, rows.clone(), dry_run).await {
        Ok(n) => Ok((n, failures)),
        Err(e) if W::refused(&e).is_some() => {
            let mut written = 0;
            for row in rows {
                let line = row.0;
                match attempt(conn, writer, vec![row], dry_run).await {
                    Ok(n) => written += n,
                    Err(e) => match W::refused(&e) {
                        Some(errors) => failures.push((line, errors)),
                        None => return Err(e),
                    },
                }
            }
            Ok((written, failures))
        }
        Err(e) => Err(e),
    }
}

/// What an import batch did to one record type.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Records written (or, in a dry run, that would be).
    pub created: u64,
    /// Records updated by rows of an upserting import.
    pub updated: u64,
    /// Rows refused, with why (field names are the file's fields: `email`, `stage`,
    /// `customFields.x`, ...).
    pub failures: Vec<(u64, Vec<crm_core::FieldError>)>,
}

/// Which value of a row finds the record it updates instead of creating one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertBy {
    /// The e-mail (contacts, companies).
    Email,
    /// The phone in E.164 (contacts, companies).
    Phone,
    /// The name (companies).
    Name,
    /// The deal number (deals).
    Number,
}

/// Why a row of an upserting import was refused for its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertClash {
    /// An earlier row of the file has the key.
    EarlierRow,
    /// Several live records have it: which one to update is not clear.
    Several,
}

impl UpsertClash {
    /// The error of a row refused so: `field` is the key's field, `records` what records of
    /// the kind are called (`contacts`).
    pub fn error(self, field: &str, records: &str) -> crm_core::FieldError {
        let message = match self {
            UpsertClash::EarlierRow => format!("an earlier row of the file has this {field}"),
            UpsertClash::Several => format!("several {records} have this {field}"),
        };
        crm_core::FieldError::new(field, message)
    }
}

/// An upserting batch's rows sorted out by key.
#[derive(Debug)]
pub struct Upserts<T, Id> {
    /// Rows to create: no key, or no record has it.
    pub create: Vec<(u64, T)>,
    /// Rows that update the one record with their key.
    pub update: Vec<(u64, Id, T)>,
    /// Rows refused for their key.
    pub clashes: Vec<(u64, UpsertClash)>,
}

/// Sorts rows by their upsert key (normalised; `None`: the row has none): a key an earlier
/// row of the file had is a clash (whichever batch it was in), a key of one live record
/// (`existing`) updates it, of several is a clash, of none creates.
pub async fn sort_upserts<T, Id: Copy>(
    conn: &mut AsyncPgConnection,
    import: Uuid,
    rows: Vec<(u64, Option<String>, T)>,
    existing: &std::collections::HashMap<String, Vec<Id>>,
) -> QueryResult<Upserts<T, Id>> {
    // Prefixed: the create path claims its unique values (e-mails, names) unprefixed.
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|(_, k, _)| k.as_ref().map(|k| format!("upsert:{k}")))
        .collect();
    let mut fresh = claim(conn, import, &keys).await?;
    let mut sorted = Upserts {
        create: Vec::new(),
        update: Vec::new(),
        clashes: Vec::new(),
    };
    for (line, key, row) in rows {
        let Some(key) = key else {
            sorted.create.push((line, row));
            continue;
        };
        if !fresh.remove(&format!("upsert:{key}")) {
            sorted.clashes.push((line, UpsertClash::EarlierRow));
            continue;
        }
        match existing.get(&key).map(Vec::as_slice) {
            None | Some([]) => sorted.create.push((line, row)),
            Some([id]) => sorted.update.push((line, *id, row)),
            Some(_) => sorted.clashes.push((line, UpsertClash::Several)),
        }
    }
    Ok(sorted)
}

/// How a record crate updates one record from a row of an upserting import (through its own
/// update use case: the PATCH rules, timeline and events).
pub trait RowUpdater {
    /// The record's id.
    type Id: Copy;
    /// The row.
    type Row;
    /// The crate's error.
    type Error: From<diesel::result::Error> + crm_core::DomainError;

    /// Updates record `id` from `row`.
    fn update(
        &self,
        conn: &mut AsyncPgConnection,
        id: Self::Id,
        row: Self::Row,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Updates the matched records one at a time (each in its own savepoint, all of them undone
/// again for a dry run): how many were updated, and the rows refused with their field errors.
/// Failures of the server, not of the row, end the batch.
pub async fn update_rows<U: RowUpdater>(
    conn: &mut AsyncPgConnection,
    updater: &U,
    rows: Vec<(u64, U::Id, U::Row)>,
    dry_run: bool,
) -> Result<(u64, Vec<(u64, Vec<crm_core::FieldError>)>), U::Error> {
    use crm_core::{DomainError, ErrorKind};
    use diesel_async::{AnsiTransactionManager, TransactionManager};
    if rows.is_empty() {
        return Ok((0, Vec::new()));
    }
    AnsiTransactionManager::begin_transaction(conn).await?;
    let mut updated = 0;
    let mut failures = Vec::new();
    for (line, id, row) in rows {
        match updater.update(conn, id, row).await {
            Ok(()) => updated += 1,
            Err(e) => match e.kind() {
                ErrorKind::Invalid
                | ErrorKind::Conflict
                | ErrorKind::Unprocessable
                | ErrorKind::NotFound => {
                    let mut errors = e.field_errors();
                    if errors.is_empty() {
                        errors.push(crm_core::FieldError::new("row", e.to_string()));
                    }
                    failures.push((line, errors));
                }
                _ => {
                    AnsiTransactionManager::rollback_transaction(conn).await?;
                    return Err(e);
                }
            },
        }
    }
    if dry_run {
        AnsiTransactionManager::rollback_transaction(conn).await?;
    } else {
        AnsiTransactionManager::commit_transaction(conn).await?;
    }
    Ok((updated, failures))
}
