//! Tag registry use cases. Each takes the connection first, then the actor, then the input.

use chrono::Utc;
use crm_core::{Actor, Change, EntityKind, EntityRef, FieldError, Permission, TagId};
use crm_db::AsyncPgConnection;
use crm_db::schema::tags;
use crm_db::tags::TAGGED;
use crm_events::Rewritten;
use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use crate::error::TagError;
use crate::model::{CreateTag, MergeTag, Tag, UpdateTag};

/// Tags with usage counts, in one query: the tags of every non-trashed record unnested,
/// grouped case-insensitively and joined to the registry.
const SELECT_TAGS: &str = "\
SELECT t.id, t.name, t.color, COALESCE(u.n, 0)::bigint AS usage_count, t.created_at, \
       t.updated_at, t.version \
FROM tags t LEFT JOIN ( \
    SELECT lower(x) AS k, count(*) AS n FROM ( \
        SELECT unnest(tags) AS x FROM contacts WHERE deleted_at IS NULL \
        UNION ALL SELECT unnest(tags) FROM companies WHERE deleted_at IS NULL \
        UNION ALL SELECT unnest(tags) FROM deals WHERE deleted_at IS NULL \
        UNION ALL SELECT unnest(tags) FROM tasks WHERE deleted_at IS NULL \
    ) s GROUP BY lower(x) \
) u ON u.k = lower(t.name) \
WHERE ($1::uuid IS NULL OR t.id = $1) AND ($2::text IS NULL OR t.name ILIKE $2) \
ORDER BY lower(t.name), t.id";

#[derive(Queryable, Selectable)]
#[diesel(table_name = tags)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct TagRow {
    id: TagId,
    name: String,
    color: String,
    version: i32,
}

/// Refuses an input its garde rules (`crm_core::checks`) refuse, naming every field.
fn validate(input: &impl garde::Validate<Context = ()>) -> Result<(), TagError> {
    let errors = crm_core::checks::errors(input);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(TagError::Invalid(errors))
    }
}

async fn query_tags(
    conn: &mut AsyncPgConnection,
    id: Option<TagId>,
    q: Option<String>,
) -> Result<Vec<Tag>, TagError> {
    Ok(diesel::sql_query(SELECT_TAGS)
        .bind::<Nullable<SqlUuid>, _>(id)
        .bind::<Nullable<Text>, _>(q)
        .load(conn)
        .await?)
}

async fn load(conn: &mut AsyncPgConnection, id: TagId) -> Result<TagRow, TagError> {
    tags::table
        .find(id)
        .select(TagRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(TagError::NotFound(id))
}

/// Another tag already named `name` (case-insensitively)?
async fn name_taken(
    conn: &mut AsyncPgConnection,
    name: &str,
    except: Option<TagId>,
) -> Result<bool, TagError> {
    let ids: Vec<TagId> = diesel::sql_query("SELECT id FROM tags WHERE lower(name) = lower($1)")
        .bind::<Text, _>(name)
        .load::<IdRow>(conn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    Ok(ids.iter().any(|id| Some(*id) != except))
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: TagId,
}

/// The record type of a tagged table, for its activity entries and events.
fn entity_of(table: &str) -> EntityKind {
    match table {
        "contacts" => EntityKind::Contact,
        "companies" => EntityKind::Company,
        "deals" => EntityKind::Deal,
        _ => EntityKind::Task,
    }
}

/// A record whose tags a rewrite changed.
#[derive(QueryableByName)]
struct Retagged {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Array<Text>)]
    before: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    after: Vec<String>,
}

/// Every record carrying `from` (case-insensitively) carries `to` instead (`None`: nothing),
/// without duplicates, with its version bumped and a `<record>.updated` activity entry with the
/// `tags` change on its timeline — one statement per table — and, for the records outside the
/// trash, the realtime events of a normal update with that change (`deal.updated`,
/// `deal.field.updated` for `tags` and `contact.deal.updated`; `contact.updated`;
/// `task.updated`; companies have none), appended by `crm-record-events` a batch of records at
/// a time (a constant number of queries per batch, never one per record).
///
/// `crm-tags` depends on the record crates (through `crm-record-events`) for this; none of
/// them depends on `crm-tags`, so there is no cycle.
async fn rewrite_records(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    from: &str,
    to: Option<&str>,
) -> Result<(), TagError> {
    for table in TAGGED {
        let new_tags = if to.is_some() {
            "ARRAY(SELECT v FROM ( \
                SELECT v, i, row_number() OVER (PARTITION BY lower(v) ORDER BY i) AS rn FROM ( \
                    SELECT CASE WHEN lower(e) = lower($1) THEN $4 ELSE e END AS v, i \
                    FROM unnest(r.tags) WITH ORDINALITY AS u(e, i)) a) b \
             WHERE rn = 1 ORDER BY i)"
        } else {
            "ARRAY(SELECT e FROM unnest(r.tags) WITH ORDINALITY AS u(e, i) \
             WHERE lower(e) <> lower($1) ORDER BY i)"
        };
        let kind = entity_of(table);
        let entity = kind.as_str();
        let query = diesel::sql_query(format!(
            "WITH old AS ( \
                 SELECT id, tags FROM {table} WHERE crm_lower_tags(tags) @> ARRAY[lower($1)] FOR UPDATE \
             ), changed AS ( \
                 UPDATE {table} r SET tags = {new_tags}, version = r.version + 1, updated_at = now() \
                 FROM old WHERE r.id = old.id \
                 RETURNING r.id, old.tags AS before, r.tags AS after \
             ), logged AS ( \
                 INSERT INTO activity (id, entity_type, entity_id, type, actor_id, api_key_id, changes) \
                 SELECT crm_uuid_v7(), '{entity}', id, '{entity}.updated', $2, $3, \
                        jsonb_build_array(jsonb_build_object('field', 'tags', 'from', to_jsonb(before), 'to', to_jsonb(after))) \
                 FROM changed WHERE before IS DISTINCT FROM after \
             ) \
             SELECT id, before, after FROM changed WHERE before IS DISTINCT FROM after ORDER BY id"
        ))
        .bind::<Text, _>(from)
        .bind::<Nullable<SqlUuid>, _>(actor.user_id)
        .bind::<Nullable<SqlUuid>, _>(actor.api_key_id.map(|k| k.0));
        let retagged: Vec<Retagged> = match to {
            Some(to) => query.bind::<Text, _>(to).load(conn).await?,
            None => query.load(conn).await?,
        };
        let records: Vec<Rewritten> = retagged
            .into_iter()
            .map(|r| Rewritten {
                id: r.id,
                changes: vec![Change {
                    field: "tags".into(),
                    from: r.before.into(),
                    to: r.after.into(),
                }],
            })
            .collect();
        crm_record_events::rewritten(conn, actor, kind, &records).await?;
    }
    Ok(())
}

async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TagId,
    kind: &str,
    changes: &[Change],
) -> Result<(), TagError> {
    crm_activity::record(conn, actor, EntityRef::of(id), kind, changes).await?;
    Ok(())
}

fn text_change(field: &str, from: Option<&str>, to: Option<&str>) -> Change {
    let v = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_owned()));
    Change {
        field: field.to_owned(),
        from: v(from),
        to: v(to),
    }
}

/// Every tag with its usage count, by name; `q` filters by a case-insensitive fragment. Any
/// signed-in actor may read the registry.
pub async fn list_tags(
    conn: &mut AsyncPgConnection,
    _actor: &Actor,
    q: Option<&str>,
) -> Result<Vec<Tag>, TagError> {
    let pattern = q.map(str::trim).filter(|q| !q.is_empty()).map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    query_tags(conn, None, pattern).await
}

/// One tag with its usage count.
pub async fn get_tag(
    conn: &mut AsyncPgConnection,
    _actor: &Actor,
    id: TagId,
) -> Result<Tag, TagError> {
    query_tags(conn, Some(id), None)
        .await?
        .into_iter()
        .next()
        .ok_or(TagError::NotFound(id))
}

/// Registers a tag (`tags.manage`); a name taken case-insensitively is `DuplicateTag`.
pub async fn create_tag(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreateTag,
) -> Result<Tag, TagError> {
    actor.require(Permission::TagsManage)?;
    validate(&input)?;
    let name = input.name.trim().to_owned();
    let color = input.color.as_deref().map(str::to_ascii_lowercase);
    conn.transaction(async |conn| {
        if name_taken(conn, &name, None).await? {
            return Err(TagError::DuplicateTag);
        }
        let now = Utc::now();
        let id = TagId::new();
        diesel::insert_into(tags::table)
            .values((
                tags::id.eq(id),
                tags::name.eq(&name),
                tags::color.eq(color.as_deref().unwrap_or("#9e9e9e")),
                tags::created_at.eq(now),
                tags::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        let tag = get_tag(conn, actor, id).await?;
        let changes = vec![
            text_change("name", None, Some(&tag.name)),
            text_change("color", None, Some(&tag.color)),
        ];
        record(conn, actor, id, "tag.created", &changes).await?;
        Ok(tag)
    })
    .await
}

/// Renames or recolours a tag (`tags.manage`). A new name is written to every record carrying
/// the old one; the name of another tag is `DuplicateTag` (merge instead).
pub async fn update_tag(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TagId,
    input: UpdateTag,
    expected_version: Option<i32>,
) -> Result<Tag, TagError> {
    actor.require(Permission::TagsManage)?;
    validate(&input)?;
    let name = input.name.as_deref().map(|n| n.trim().to_owned());
    let color = input.color.as_deref().map(str::to_ascii_lowercase);
    conn.transaction(async |conn| {
        let row = load(conn, id).await?;
        crm_core::check_version(expected_version, row.version)?;
        let mut changes = Vec::new();
        if let Some(name) = name.as_deref().filter(|n| *n != row.name) {
            if name_taken(conn, name, Some(id)).await? {
                return Err(TagError::DuplicateTag);
            }
            rewrite_records(conn, actor, &row.name, Some(name)).await?;
            changes.push(text_change("name", Some(&row.name), Some(name)));
        }
        if let Some(color) = color.as_deref().filter(|c| *c != row.color) {
            changes.push(text_change("color", Some(&row.color), Some(color)));
        }
        diesel::update(tags::table.find(id))
            .set((
                tags::name.eq(name.as_deref().unwrap_or(&row.name)),
                tags::color.eq(color.as_deref().unwrap_or(&row.color)),
                tags::updated_at.eq(Utc::now()),
                tags::version.eq(tags::version + 1),
            ))
            .execute(conn)
            .await?;
        record(conn, actor, id, "tag.updated", &changes).await?;
        get_tag(conn, actor, id).await
    })
    .await
}

/// Merges a tag into another (`tags.manage`): every record carrying the source carries the
/// target instead (without duplicates) and the source is deleted. Returns the target.
pub async fn merge_tag(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TagId,
    input: MergeTag,
) -> Result<Tag, TagError> {
    actor.require(Permission::TagsManage)?;
    if input.into_id == id {
        return Err(FieldError::new("intoId", "must be another tag").into());
    }
    conn.transaction(async |conn| {
        let source = load(conn, id).await?;
        let target = match load(conn, input.into_id).await {
            Err(TagError::NotFound(t)) => return Err(TagError::UnknownTag(t)),
            other => other?,
        };
        rewrite_records(conn, actor, &source.name, Some(&target.name)).await?;
        diesel::delete(tags::table.find(id)).execute(conn).await?;
        let changes = [text_change("name", Some(&source.name), Some(&target.name))];
        record(conn, actor, id, "tag.merged", &changes).await?;
        get_tag(conn, actor, target.id).await
    })
    .await
}

/// Deletes a tag (`tags.manage`) and removes it from every record carrying it.
pub async fn delete_tag(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TagId,
    expected_version: Option<i32>,
) -> Result<(), TagError> {
    actor.require(Permission::TagsManage)?;
    conn.transaction(async |conn| {
        let row = load(conn, id).await?;
        crm_core::check_version(expected_version, row.version)?;
        rewrite_records(conn, actor, &row.name, None).await?;
        diesel::delete(tags::table.find(id)).execute(conn).await?;
        record(
            conn,
            actor,
            id,
            "tag.deleted",
            &[text_change("name", Some(&row.name), None)],
        )
        .await?;
        Ok(())
    })
    .await
}
