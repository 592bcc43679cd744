//! The `events` table: appending in the caller's transaction, reading back in `seq` order,
//! replaying a room, and pruning what is older than the retention.

use chrono::{DateTime, Utc};
use crm_core::{Actor, Permission};
use crm_db::AsyncPgConnection;
use crm_db::schema::{events, events_horizon};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use crate::audience::Audience;
use crate::name::EventName;
use crate::room::Room;

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What happened.
    pub name: EventName,
    /// Where it is delivered (never empty for a useful event).
    pub rooms: Vec<Room>,
    /// Who may receive it.
    pub audience: Audience,
    /// The `data` of the message: the record as the API returns it, or for
    /// `deal.field.updated` the field with its old and new value.
    pub payload: Value,
}

impl NewEvent {
    /// An event.
    pub fn new(name: EventName, rooms: Vec<Room>, audience: Audience, payload: Value) -> Self {
        let mut rooms = rooms;
        rooms.sort();
        rooms.dedup();
        Self {
            name,
            rooms,
            audience,
            payload,
        }
    }
}

/// Appends events; call it inside the transaction of the change they describe. Their `seq`
/// is assigned when that transaction commits (in commit order), and PostgreSQL then notifies
/// the `crm_events` channel. A rollback, also of a savepoint, leaves nothing behind.
pub async fn append(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    new: Vec<NewEvent>,
) -> QueryResult<()> {
    let rows: Vec<_> = new
        .into_iter()
        .filter(|e| !e.rooms.is_empty())
        .map(|e| {
            (
                events::event.eq(e.name.as_str()),
                events::rooms.eq(e.rooms.iter().map(Room::to_string).collect::<Vec<_>>()),
                events::actor_id.eq(actor.user_id.map(|u| u.0)),
                events::api_key_id.eq(actor.api_key_id.map(|k| k.0)),
                events::payload.eq(e.payload),
                events::read_perms.eq(e
                    .audience
                    .perms
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect::<Vec<_>>()),
                events::read_all_perm.eq(e.audience.read_all.map(|p| p.as_str())),
                events::visible_to.eq(e.audience.users),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(events::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// A committed event as read back.
#[derive(Debug, Clone)]
pub struct Event {
    /// Global position, in commit order.
    pub seq: i64,
    /// Event name (`deal.updated`, ...).
    pub name: String,
    /// Room names (`deal:<id>`, ...).
    pub rooms: Vec<String>,
    /// Who caused it.
    pub actor_id: Option<Uuid>,
    /// The `data`, as JSON text exactly as it was written.
    pub payload: String,
    /// Who may receive it.
    pub audience: Audience,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    event: String,
    #[diesel(sql_type = Array<Text>)]
    rooms: Vec<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    actor_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Array<Text>)]
    read_perms: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    read_all_perm: Option<String>,
    #[diesel(sql_type = Array<diesel::sql_types::Uuid>)]
    visible_to: Vec<Uuid>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

fn permission(name: &str) -> Option<Permission> {
    name.parse().ok()
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        // An unknown permission name (written by a newer version) makes the event one for
        // holders of every permission only: it is never shown to the wrong person.
        let mut perms = Vec::with_capacity(r.read_perms.len());
        let mut unknown = false;
        for p in &r.read_perms {
            match permission(p) {
                Some(p) => perms.push(p),
                None => unknown = true,
            }
        }
        let read_all = match r.read_all_perm.as_deref().map(permission) {
            Some(None) => {
                unknown = true;
                None
            }
            Some(Some(p)) => Some(p),
            None => None,
        };
        let audience = if unknown {
            Audience {
                perms: crm_core::PermissionSet::all().to_vec(),
                read_all: None,
                users: Vec::new(),
            }
        } else {
            Audience {
                perms,
                read_all,
                users: r.visible_to,
            }
        };
        Self {
            seq: r.seq,
            name: r.event,
            rooms: r.rooms,
            actor_id: r.actor_id,
            payload: r.payload,
            audience,
            created_at: r.created_at,
        }
    }
}

const COLUMNS: &str = "seq, event, rooms, actor_id, payload::text AS payload, read_perms, \
                       read_all_perm, visible_to, created_at";

impl Event {
    /// Committed events with `seq > after`, in `seq` order, at most `limit`.
    pub async fn after(
        conn: &mut AsyncPgConnection,
        after: i64,
        limit: i64,
    ) -> QueryResult<Vec<Event>> {
        let rows: Vec<EventRow> = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }

    /// The events of `room` with `after < seq <= upto`, in `seq` order, at most `limit`. Walks
    /// the `seq` range (cost grows with the number of events since `after`, not with the
    /// room's history).
    pub async fn in_room(
        conn: &mut AsyncPgConnection,
        room: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> QueryResult<Vec<Event>> {
        let rows: Vec<EventRow> = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM events \
             WHERE seq > $1 AND seq <= $2 AND rooms @> ARRAY[$3] \
             ORDER BY seq LIMIT $4"
        ))
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(upto)
        .bind::<Text, _>(room)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(Event::from).collect())
    }
}

/// The highest `seq` committed so far (or the pruning horizon when every event is pruned;
/// 0 on a new database).
pub async fn head(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    let max: Option<i64> = events::table
        .select(diesel::dsl::max(events::seq))
        .first(conn)
        .await?;
    match max {
        Some(seq) => Ok(seq),
        None => horizon(conn).await,
    }
}

/// The highest `seq` removed by [`prune`]: a replay from before it would be incomplete.
pub async fn horizon(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    Ok(events_horizon::table
        .select(events_horizon::pruned_through)
        .first::<i64>(conn)
        .await
        .optional()?
        .unwrap_or(0))
}

/// Deletes the events written before `older_than` and moves the horizon past them; returns
/// how many. Idempotent, so several instances may run it.
pub async fn prune(conn: &mut AsyncPgConnection, older_than: DateTime<Utc>) -> QueryResult<usize> {
    conn.transaction(async |conn| {
        let gone: Vec<Option<i64>> = diesel::delete(
            events::table
                .filter(events::created_at.lt(older_than))
                .filter(events::seq.is_not_null()),
        )
        .returning(events::seq)
        .get_results(conn)
        .await?;
        if let Some(max) = gone.iter().flatten().max() {
            diesel::sql_query(
                "UPDATE events_horizon SET pruned_through = greatest(pruned_through, $1)",
            )
            .bind::<BigInt, _>(*max)
            .execute(conn)
            .await?;
        }
        Ok(gone.len())
    })
    .await
}
