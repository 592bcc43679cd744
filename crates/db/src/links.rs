//! What a record may link to (a deal's contact and company, a task's deal and contact, a
//! contact's company, an assignee or owner): one rule for every link, checked in the linking
//! transaction.

use crm_core::{Actor, EntityKind, RecordId, UserId};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::{companies, contacts, deals, tasks, users};
use crate::visibility;

/// Whether `id` is a live record (deal, contact, company or task; not in the trash) that
/// `actor` may read. A record out of reach is as unknown as a missing one: telling them apart
/// would tell the caller it exists. The row is share-locked, so it cannot be trashed or purged
/// before the linking transaction commits. Other kinds link to nothing: `false`.
pub async fn linkable<I: RecordId>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: I,
) -> QueryResult<bool> {
    let id: Uuid = id.into();
    // The same statement for each record table; tables are distinct types in diesel.
    macro_rules! live_and_visible {
        ($table:ident) => {
            $table::table
                .find(id)
                .filter($table::deleted_at.is_null())
                .filter(visibility::$table(actor))
                .select($table::id)
                .for_share()
                .first::<Uuid>(conn)
                .await
                .optional()?
        };
    }
    let found = match I::KIND {
        EntityKind::Deal => live_and_visible!(deals),
        EntityKind::Contact => live_and_visible!(contacts),
        EntityKind::Company => live_and_visible!(companies),
        EntityKind::Task => live_and_visible!(tasks),
        _ => None,
    };
    Ok(found.is_some())
}

/// Whether `id` is an active user: the one rule for assignees and owners.
pub async fn active_user(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<bool> {
    let n: i64 = users::table
        .filter(users::id.eq(id))
        .filter(users::is_active.eq(true))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// `Ok` when `id` is [`linkable`], `Err(unknown(id))` otherwise.
pub async fn require<I: RecordId, E: From<diesel::result::Error>>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: I,
    unknown: fn(I) -> E,
) -> Result<(), E> {
    if linkable(conn, actor, id).await? {
        Ok(())
    } else {
        Err(unknown(id))
    }
}

/// `Ok` when `id` is an [`active_user`], `Err(unknown(id))` otherwise.
pub async fn require_active_user<E: From<diesel::result::Error>>(
    conn: &mut AsyncPgConnection,
    id: UserId,
    unknown: fn(UserId) -> E,
) -> Result<(), E> {
    if active_user(conn, id).await? {
        Ok(())
    } else {
        Err(unknown(id))
    }
}

/// Of `ids`, the ones [`linkable`] (live, readable by `actor`), share-locked: the set-based
/// form for imports, one statement for any number of ids.
pub async fn linkable_ids<I: RecordId>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    ids: &[I],
) -> QueryResult<std::collections::HashSet<Uuid>> {
    let mut ids: Vec<Uuid> = ids.iter().map(|&id| id.into()).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    ids.sort_unstable();
    ids.dedup();
    macro_rules! live_and_visible {
        ($table:ident) => {
            $table::table
                .filter($table::id.eq_any(&ids))
                .filter($table::deleted_at.is_null())
                .filter(visibility::$table(actor))
                .select($table::id)
                .order($table::id)
                .for_share()
                .load::<Uuid>(conn)
                .await?
        };
    }
    let found = match I::KIND {
        EntityKind::Deal => live_and_visible!(deals),
        EntityKind::Contact => live_and_visible!(contacts),
        EntityKind::Company => live_and_visible!(companies),
        EntityKind::Task => live_and_visible!(tasks),
        _ => Vec::new(),
    };
    Ok(found.into_iter().collect())
}

/// The active users a file's cells name, by the lower-cased cell: how imports name assignees
/// and owners. A cell names a user by e-mail; failing that, by full name (`first last`) or by
/// the part of the e-mail before `@` (a login, as other systems export it), when exactly one
/// active user answers to it.
pub async fn active_users_by_email<'a>(
    conn: &mut AsyncPgConnection,
    cells: impl IntoIterator<Item = &'a str>,
) -> QueryResult<std::collections::HashMap<String, UserId>> {
    use std::collections::HashMap;
    let mut cells: Vec<String> = cells
        .into_iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    if cells.is_empty() {
        return Ok(HashMap::new());
    }
    cells.sort_unstable();
    cells.dedup();
    #[derive(QueryableByName)]
    struct Candidate {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Text)]
        email: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        full_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        login: String,
    }
    let found: Vec<Candidate> = diesel::sql_query(
        "SELECT id, lower(email) AS email,            lower(trim(first_name || ' ' || last_name)) AS full_name,            split_part(lower(email), '@', 1) AS login          FROM users WHERE is_active AND (            lower(email) = ANY($1)            OR lower(trim(first_name || ' ' || last_name)) = ANY($1)            OR split_part(lower(email), '@', 1) = ANY($1))",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&cells)
    .load(conn)
    .await?;
    let only = |hits: Vec<Uuid>| match hits.as_slice() {
        [one] => Some(UserId(*one)),
        _ => None,
    };
    let mut named = HashMap::new();
    for cell in cells {
        let by = |f: fn(&Candidate) -> &str| -> Vec<Uuid> {
            found
                .iter()
                .filter(|c| f(c) == cell)
                .map(|c| c.id)
                .collect()
        };
        let user = only(by(|c| &c.email))
            .or_else(|| only(by(|c| &c.full_name)))
            .or_else(|| only(by(|c| &c.login)));
        if let Some(user) = user {
            named.insert(cell, user);
        }
    }
    Ok(named)
}

/// The live contacts `actor` may read with these e-mails (ignoring case), by lower-cased
/// e-mail, share-locked like [`linkable`]: how imports name a deal's or a task's contact.
pub async fn contacts_by_email<'a>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    emails: impl IntoIterator<Item = &'a str>,
) -> QueryResult<std::collections::HashMap<String, crm_core::ContactId>> {
    let mut emails: Vec<String> = emails
        .into_iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    if emails.is_empty() {
        return Ok(Default::default());
    }
    emails.sort_unstable();
    emails.dedup();
    let found: Vec<(crm_core::ContactId, String)> = contacts::table
        .filter(crate::sql::lower(contacts::email.assume_not_null()).eq_any(&emails))
        .filter(contacts::deleted_at.is_null())
        .filter(visibility::contacts(actor))
        .order(contacts::id)
        .select((
            contacts::id,
            crate::sql::lower(contacts::email.assume_not_null()),
        ))
        .for_share()
        .load(conn)
        .await?;
    Ok(found.into_iter().map(|(id, e)| (e, id)).collect())
}
