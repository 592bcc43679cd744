//! The `events` table: appending in the caller's transaction, reading back in `seq` order,
//! replaying a room, and pruning what is older than the retention.

use chrono::{DateTime, Utc};
use crm_core::{Actor, Permission, UserId};
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

/// How many events [`append`] writes per statement.
const EVENTS_PER_STATEMENT: usize = 2000;

/// Appends events; call it inside the transaction of the change they describe. They get their
/// `seq` from [`stamp`] once that transaction has committed; a rollback, also of a savepoint,
/// leaves nothing behind.
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
                events::actor_id.eq(actor.user_id),
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
    // Eight parameters a row: a bulk move of thousands of deals appends tens of thousands of
    // events, more than PostgreSQL's 65 535 parameters of one statement.
    for chunk in rows.chunks(EVENTS_PER_STATEMENT) {
        diesel::insert_into(events::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
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
    visible_to: Vec<UserId>,
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

/// Advisory-lock key of the stamper: one numbering transaction at a time, across instances.
const STAMPER_LOCK: i64 = 0x4352_4d5f_4556_5453; // 'CRM_EVTS'

/// Numbers committed events that have no `seq` yet (at most `limit`, in the order they were
/// written) and notifies the `crm_events` channel; returns how many. Returns 0 at once while
/// another stamper (of any instance) holds the stamper lock.
///
/// Why this gives every reader every event once, in order: a row is visible to the stamper
/// only once its transaction has committed, and stamping transactions run one at a time
/// (the lock is held until each has committed), each continuing from the highest `seq` the
/// previous one committed. So `seq` only ever becomes visible in increasing order, and reading
/// `seq > last_seen` can never skip a number that appears later — the gap a sequence handed
/// out at INSERT time would leave. Two changes of one record are ordered by the record's row
/// lock, so their events are written, stamped and delivered in commit order. Writers hold no
/// lock of their own for this and send no NOTIFY: both would serialise their commits.
pub async fn stamp(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<usize> {
    stamp_with(conn, limit, false).await
}

/// Like [`stamp`], but waits for a running stamper instead of skipping, so that on return
/// every event committed before the call has its `seq` (when no more than `limit` waited).
pub async fn stamp_waiting(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<usize> {
    stamp_with(conn, limit, true).await
}

async fn stamp_with(conn: &mut AsyncPgConnection, limit: i64, wait: bool) -> QueryResult<usize> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    conn.transaction(async |conn| {
        let lock = if wait {
            "SELECT pg_advisory_xact_lock($1) IS NOT NULL AS locked"
        } else {
            "SELECT pg_try_advisory_xact_lock($1) AS locked"
        };
        let lock: Locked = diesel::sql_query(lock)
            .bind::<BigInt, _>(STAMPER_LOCK)
            .get_result(conn)
            .await?;
        if !lock.locked {
            return Ok(0);
        }
        let stamped = diesel::sql_query(
            "WITH todo AS ( \
                 SELECT id, row_number() OVER (ORDER BY id) AS rn FROM events \
                 WHERE seq IS NULL ORDER BY id LIMIT $1 \
             ), base AS ( \
                 SELECT greatest((SELECT max(seq) FROM events), \
                                 (SELECT pruned_through FROM events_horizon), 0) AS b \
             ) \
             UPDATE events e SET seq = base.b + todo.rn FROM todo, base WHERE e.id = todo.id",
        )
        .bind::<BigInt, _>(limit)
        .execute(conn)
        .await?;
        if stamped > 0 {
            // Delivered on commit, once per stamping transaction.
            diesel::sql_query("SELECT pg_notify('crm_events', '')")
                .execute(conn)
                .await?;
        }
        Ok(stamped)
    })
    .await
}

/// Whether committed events wait for [`stamp`] (a cheap check on a partial index).
pub async fn unstamped(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        events::table
            .filter(events::seq.is_null())
            .select(events::id),
    ))
    .get_result(conn)
    .await
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
