//! The activity log. Services call [`record`] inside the transaction of the change, so an
//! entry exists exactly when the change was committed. Reading: a record's timeline
//! ([`list_for_entity`], the caller checks the record is visible) and the admin-wide [`feed`].
//!
//! Depends on `crm-core` and `crm-db` only: it points at records through `EntityRef`.

use chrono::{DateTime, Utc};
use crm_core::actor::Forbidden;
use crm_core::{
    Actor, Change, Cursor, CursorPage, DomainError, EntityKind, EntityRef, ErrorKind, Permission,
    UserId,
};
use crm_db::schema::activity;
use crm_db::{AsyncPgConnection, DbError};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

/// Failure of an activity operation.
#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// A stored entry cannot be read back (an entity type or changes this version does not
    /// know): a data problem, reported rather than shown as something else.
    #[error("activity entry {id} is unreadable: {problem}")]
    Unreadable {
        /// The entry.
        id: Uuid,
        /// What is wrong with it.
        problem: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ActivityError {
    fn from(e: diesel::result::Error) -> Self {
        ActivityError::Db(DbError::Query(e))
    }
}

impl DomainError for ActivityError {
    fn kind(&self) -> ErrorKind {
        match self {
            ActivityError::Forbidden(_) => ErrorKind::Forbidden,
            ActivityError::Unreadable { .. } => ErrorKind::Internal,
            ActivityError::Db(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            ActivityError::Forbidden(_) => "forbidden",
            ActivityError::Unreadable { .. } => "internal_error",
            ActivityError::Db(e) => e.code(),
        }
    }
}

/// One entry of a timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// Id.
    pub id: Uuid,
    /// Kind of the record, e.g. `deal`.
    pub entity_type: EntityKind,
    /// Id of the record.
    pub entity_id: Uuid,
    /// What happened, e.g. `deal.updated`, `deal.stage.changed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user who did it (for API keys: the admin who created the key).
    pub actor_id: Option<UserId>,
    /// The API key used, if any.
    pub api_key_id: Option<Uuid>,
    /// Field-level changes.
    pub changes: Vec<Change>,
    /// When.
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = activity)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct ActivityRow {
    id: Uuid,
    entity_type: String,
    entity_id: Uuid,
    kind: String,
    actor_id: Option<Uuid>,
    api_key_id: Option<Uuid>,
    changes: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl TryFrom<ActivityRow> for Activity {
    type Error = ActivityError;

    fn try_from(r: ActivityRow) -> Result<Self, ActivityError> {
        let id = r.id;
        let unreadable = move |problem: String| ActivityError::Unreadable { id, problem };
        let entity_type = r
            .entity_type
            .parse()
            .map_err(|_| unreadable(format!("unknown entity type {:?}", r.entity_type)))?;
        let changes =
            serde_json::from_value(r.changes).map_err(|e| unreadable(format!("changes: {e}")))?;
        Ok(Self {
            id: r.id,
            entity_type,
            entity_id: r.entity_id,
            kind: r.kind,
            actor_id: r.actor_id.map(UserId),
            api_key_id: r.api_key_id,
            changes,
            created_at: r.created_at,
        })
    }
}

/// How many entries [`record_many`] writes per statement.
const ENTRIES_PER_STATEMENT: usize = 5000;

/// Appends an entry; call it inside the transaction of the change it describes.
pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity: EntityRef,
    kind: &str,
    changes: &[Change],
) -> Result<(), DbError> {
    record_many(conn, actor, [(entity, kind, changes)]).await
}

/// Appends several entries (a bulk change of many records); call it inside the transaction of
/// the changes they describe. One statement per few thousand entries, always the same text
/// (the entries travel as arrays), so PostgreSQL parses and plans it once per connection
/// rather than once per size of batch.
pub async fn record_many<'a>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entries: impl IntoIterator<Item = (EntityRef, &'a str, &'a [Change])>,
) -> Result<(), DbError> {
    use diesel::sql_types::{Array, Jsonb, Nullable, Text, Uuid as SqlUuid};
    let entries: Vec<(EntityRef, &str, &[Change])> = entries.into_iter().collect();
    for chunk in entries.chunks(ENTRIES_PER_STATEMENT) {
        let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
        let types: Vec<&str> = chunk.iter().map(|(e, _, _)| e.kind.as_str()).collect();
        let entity_ids: Vec<Uuid> = chunk.iter().map(|(e, _, _)| e.id).collect();
        let kinds: Vec<&str> = chunk.iter().map(|(_, k, _)| *k).collect();
        let origin = actor.import_id.map(|id| Change {
            field: "importId".into(),
            from: serde_json::Value::Null,
            to: serde_json::json!(id),
        });
        let changes: Vec<serde_json::Value> = chunk
            .iter()
            .map(|(_, _, c)| {
                let mut shown = serde_json::to_value(c).unwrap_or_default();
                if let (Some(origin), Some(list)) = (&origin, shown.as_array_mut()) {
                    list.push(serde_json::to_value(origin).unwrap_or_default());
                }
                shown
            })
            .collect();
        diesel::sql_query(
            "INSERT INTO activity (id, entity_type, entity_id, type, actor_id, api_key_id, changes) \
             SELECT e.id, e.entity_type, e.entity_id, e.kind, $5, $6, e.changes \
             FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $7::jsonb[]) \
               AS e(id, entity_type, entity_id, kind, changes)",
        )
        .bind::<Array<SqlUuid>, _>(&ids)
        .bind::<Array<Text>, _>(&types)
        .bind::<Array<SqlUuid>, _>(&entity_ids)
        .bind::<Array<Text>, _>(&kinds)
        .bind::<Nullable<SqlUuid>, _>(actor.user_id.map(|u| u.0))
        .bind::<Nullable<SqlUuid>, _>(actor.api_key_id.map(|k| k.0))
        .bind::<Array<Jsonb>, _>(&changes)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// The `<kind>.created` entries of records an import wrote: each record's fields as a created
/// entry lists them, plus `{field: "importId", to: <import>}`, so the timeline says which
/// import created it.
pub async fn record_imported(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    kind: &str,
    records: impl IntoIterator<Item = (EntityRef, serde_json::Value)>,
) -> Result<(), DbError> {
    let actor = Actor {
        import_id: Some(import),
        ..actor.clone()
    };
    let entries: Vec<(EntityRef, Vec<Change>)> = records
        .into_iter()
        .map(|(entity, shown)| (entity, crm_core::change::created(&shown)))
        .collect();
    record_many(
        conn,
        &actor,
        entries.iter().map(|(e, c)| (*e, kind, c.as_slice())),
    )
    .await
}

/// The entry of a record moved to the trash at `at`: `<kind>.deleted` with the `deletedAt`
/// change — the same for every record kind.
pub async fn record_trashed(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity: EntityRef,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    // As stored: the database keeps microseconds (diesel truncates).
    let at = chrono::SubsecRound::trunc_subsecs(at, 6);
    let change = Change {
        field: "deletedAt".into(),
        from: serde_json::Value::Null,
        to: serde_json::json!(at),
    };
    let kind = format!("{}.deleted", entity.kind);
    record(conn, actor, entity, &kind, &[change]).await
}

/// The entry of a record taken out of the trash it entered at `was`: `<kind>.restored` with the
/// `deletedAt` change, plus `extra` changes particular to the kind (a deal's new position).
pub async fn record_restored(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity: EntityRef,
    was: Option<DateTime<Utc>>,
    extra: &[Change],
) -> Result<(), DbError> {
    let mut changes = vec![Change {
        field: "deletedAt".into(),
        from: serde_json::json!(was),
        to: serde_json::Value::Null,
    }];
    changes.extend(extra.iter().filter(|c| c.field != "deletedAt").cloned());
    let kind = format!("{}.restored", entity.kind);
    record(conn, actor, entity, &kind, &changes).await
}

/// The entry of a record deleted for good, from the trash or not: `<kind>.purged`.
pub async fn record_purged(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity: EntityRef,
) -> Result<(), DbError> {
    let kind = format!("{}.purged", entity.kind);
    record(conn, actor, entity, &kind, &[]).await
}

async fn page(
    conn: &mut AsyncPgConnection,
    mut query: activity::BoxedQuery<'static, diesel::pg::Pg>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<CursorPage<Activity>, ActivityError> {
    if let Some(c) = cursor {
        query = query.filter(
            activity::created_at
                .lt(c.t)
                .or(activity::created_at.eq(c.t).and(activity::id.lt(c.id))),
        );
    }
    let rows: Vec<ActivityRow> = query
        .order((activity::created_at.desc(), activity::id.desc()))
        .limit(limit + 1)
        .select(ActivityRow::as_select())
        .load(conn)
        .await?;
    let page = CursorPage::from_rows(rows, limit, |r| Cursor {
        t: r.created_at,
        id: r.id,
    });
    Ok(CursorPage {
        items: page
            .items
            .into_iter()
            .map(Activity::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
        limit,
    })
}

/// A record's timeline, newest first (`activity.read`). The caller must have checked that the
/// actor may see the record itself.
pub async fn list_for_entity(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity: EntityRef,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<CursorPage<Activity>, ActivityError> {
    actor.require(Permission::ActivityRead)?;
    let query = activity::table
        .filter(activity::entity_type.eq(entity.kind.as_str()))
        .filter(activity::entity_id.eq(entity.id))
        .into_boxed();
    page(conn, query, cursor, limit).await
}

/// Every entry of the organisation about what the actor may read, newest first (`logs.read`),
/// optionally of one kind of record or one actor. Entries of deals, tasks, contacts and
/// companies out of the actor's reach are left out (`crm_db::visibility`).
pub async fn feed(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity_kind: Option<EntityKind>,
    actor_id: Option<UserId>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<CursorPage<Activity>, ActivityError> {
    actor.require(Permission::LogsRead)?;
    let mut query = activity::table.into_boxed();
    if let Some(kind) = entity_kind {
        query = query.filter(activity::entity_type.eq(kind.as_str()));
    }
    if let Some(user) = actor_id {
        query = query.filter(activity::actor_id.eq(user.0));
    }
    for visible in crm_db::visibility::activity_entries(actor) {
        query = query.filter(visible);
    }
    page(conn, query, cursor, limit).await
}
