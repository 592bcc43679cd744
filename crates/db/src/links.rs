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
