//! The room of a record and who may see it, for events about things that hang off a record
//! (comments, files): they go to the record's room with the record's visibility rule.

use crm_core::{EntityKind, EntityRef, UserId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{contacts, deals, tasks};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::{Audience, Room};

type People = Option<(Option<UserId>, Option<UserId>)>;

/// The room of `record` and its audience, read from the record's row (trashed rows included);
/// `None` for kinds without a room of their own (companies, users, ...) and missing rows.
pub async fn record_room(
    conn: &mut AsyncPgConnection,
    record: EntityRef,
) -> QueryResult<Option<(Room, Audience)>> {
    let id = record.id;
    Ok(match record.kind {
        EntityKind::Deal => {
            let people: People = deals::table
                .find(id)
                .select((deals::created_by_id, deals::assigned_to_id))
                .first(conn)
                .await
                .optional()?;
            people.map(|(a, b)| (Room::Deal(id.into()), Audience::deal(a, b)))
        }
        EntityKind::Contact => {
            let owner: Option<Option<UserId>> = contacts::table
                .find(id)
                .select(contacts::owner_id)
                .first(conn)
                .await
                .optional()?;
            owner.map(|o| (Room::Contact(id.into()), Audience::contact(o)))
        }
        EntityKind::Task => {
            let people: People = tasks::table
                .find(id)
                .select((tasks::created_by_id, tasks::assigned_to_id))
                .first(conn)
                .await
                .optional()?;
            people.map(|(a, b)| (Room::Task(id.into()), Audience::task(a, b)))
        }
        _ => None,
    })
}
