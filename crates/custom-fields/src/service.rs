//! Definition use cases. Each takes the connection first, then the actor, then the input;
//! every write is one transaction that also records its activity.
//!
//! Locking: a definition change takes its record type's custom-field advisory lock
//! exclusively (record writes hold it shared while they validate and write), then the
//! definition row, and — when stored values must be read or rewritten, or an index built —
//! the record table in EXCLUSIVE mode (reads go on, writes wait). The order is the same
//! everywhere, so a definition change and record writes never deadlock.
//!
//! Realtime: a change that alters what the API returns for records (conversion, option
//! removal, adoption of values stored before the definition, deletion, deactivation,
//! activation) appends, in its transaction, the update events of every such record outside
//! the trash — those of a normal update with the `customFields.<key>` change. This crate is
//! below the record crates (they validate with it), so it cannot build their events itself:
//! the caller passes a [`RewriteEvents`] hook (`crm_record_events::RecordEvents` does it for
//! every record type), and the service reports each record's net change to it once, at the
//! end of the change.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use crm_core::{Actor, Change, CustomFieldId, EntityRef, FieldError, Permission, change, checks};
use crm_db::AsyncPgConnection;
use crm_db::schema::custom_field_definitions as defs;
use crm_events::{RewriteEvents, Rewritten};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use crate::error::CustomFieldError;
use crate::input::{CreateCustomField, ListCustomFields, ReorderCustomFields, UpdateCustomField};
use crate::model::{CustomField, CustomFieldEntity, CustomFieldRow, FieldType};
use crate::value::{convert, normalize};
use crate::values::{sort_index_name, unique_index_name};

/// Most custom fields per record type (each has an index on the record table).
pub const MAX_FIELDS: usize = 100;
/// Most options of a SELECT or MULTI_SELECT field.
pub const MAX_OPTIONS: usize = 200;
/// Longest option, in characters.
pub const MAX_OPTION_LEN: usize = 100;
/// Longest display name, in characters.
pub const MAX_NAME_LEN: usize = 100;

// ---------------------------------------------------------------------------------------------
// Validation

/// Whether `key` is snake_case of at most 48 characters (the database checks the same).
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 48
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_options(kind: FieldType, raw: Vec<String>, errors: &mut Vec<FieldError>) -> Vec<String> {
    if !kind.has_options() {
        if !raw.is_empty() {
            errors.push(FieldError::new(
                "options",
                "only SELECT and MULTI_SELECT fields have options",
            ));
        }
        return Vec::new();
    }
    if raw.is_empty() || raw.len() > MAX_OPTIONS {
        // Before looking at any option: the error list must not grow with the input.
        errors.push(FieldError::new(
            "options",
            format!("a {kind} field needs 1 to {MAX_OPTIONS} options"),
        ));
        return Vec::new();
    }
    let options: Vec<String> = raw.iter().map(|o| o.trim().to_owned()).collect();
    let mut seen = HashSet::new();
    for (i, o) in options.iter().enumerate() {
        let len = o.chars().count();
        if len == 0 || len > MAX_OPTION_LEN {
            errors.push(FieldError::new(
                format!("options[{i}]"),
                format!("must be 1 to {MAX_OPTION_LEN} characters"),
            ));
        } else if !seen.insert(o.to_lowercase()) {
            errors.push(FieldError::new(
                format!("options[{i}]"),
                "is repeated (options are compared ignoring case)",
            ));
        }
    }
    options
}

/// Checks the parts of a definition that depend on each other; returns the canonical default.
fn check_rules(
    kind: FieldType,
    options: &[String],
    is_unique: bool,
    default: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    if is_unique && !kind.can_be_unique() {
        errors.push(FieldError::new(
            "isUnique",
            "BOOLEAN and MULTI_SELECT fields cannot be unique",
        ));
    }
    // Option errors already explain why no value can be checked.
    if errors.iter().any(|e| e.field.starts_with("options")) {
        return None;
    }
    let default = match default.map(|d| normalize(kind, options, d)) {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(v))) => Some(v),
        Some(Err(message)) => {
            errors.push(FieldError::new("defaultValue", message));
            None
        }
    };
    if is_unique && default.is_some() {
        errors.push(FieldError::new(
            "defaultValue",
            "a unique field cannot have a default: every new record would share it",
        ));
    }
    default
}

fn finish(errors: Vec<FieldError>) -> Result<(), CustomFieldError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CustomFieldError::Invalid(errors))
    }
}

// ---------------------------------------------------------------------------------------------
// Locks, indexes and stored values

async fn lock_exclusive(
    conn: &mut AsyncPgConnection,
    entity: CustomFieldEntity,
) -> Result<(), CustomFieldError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(entity.lock_key())
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads go on; writes to the record table wait until the definition change commits.
async fn lock_records(
    conn: &mut AsyncPgConnection,
    entity: CustomFieldEntity,
) -> Result<(), CustomFieldError> {
    diesel::sql_query(format!("LOCK TABLE {} IN EXCLUSIVE MODE", entity.table()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates or drops the field's indexes to fit its type and uniqueness.
async fn sync_indexes(
    conn: &mut AsyncPgConnection,
    field: &CustomField,
) -> Result<(), CustomFieldError> {
    let (entity, key) = (field.entity_type, &field.key);
    let table = entity.table();
    let sort = sort_index_name(entity, key);
    let unique = unique_index_name(entity, key);
    let statements = [
        if field.field_type.is_sortable() {
            format!("CREATE INDEX IF NOT EXISTS \"{sort}\" ON {table} ((custom_fields -> '{key}'))")
        } else {
            format!("DROP INDEX IF EXISTS \"{sort}\"")
        },
        if field.is_unique {
            format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS \"{unique}\" ON {table} \
                 ((custom_fields -> '{key}')) WHERE deleted_at IS NULL"
            )
        } else {
            format!("DROP INDEX IF EXISTS \"{unique}\"")
        },
    ];
    for statement in statements {
        diesel::sql_query(statement).execute(conn).await?;
    }
    Ok(())
}

async fn drop_indexes(
    conn: &mut AsyncPgConnection,
    entity: CustomFieldEntity,
    key: &str,
) -> Result<(), CustomFieldError> {
    for name in [sort_index_name(entity, key), unique_index_name(entity, key)] {
        diesel::sql_query(format!("DROP INDEX IF EXISTS \"{name}\""))
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Jsonb)]
    value: Value,
    #[diesel(sql_type = Bool)]
    trashed: bool,
}

/// Every record's value of `key`, trashed records included.
async fn stored_values(
    conn: &mut AsyncPgConnection,
    entity: CustomFieldEntity,
    key: &str,
) -> Result<Vec<Stored>, CustomFieldError> {
    Ok(diesel::sql_query(format!(
        "SELECT id, custom_fields -> '{key}' AS value, deleted_at IS NOT NULL AS trashed FROM {} \
         WHERE (custom_fields -> '{key}') IS NOT NULL",
        entity.table()
    ))
    .load(conn)
    .await?)
}

/// A stored value that changes: `to: None` removes it.
struct Rewrite {
    id: Uuid,
    from: Value,
    to: Option<Value>,
}

/// The net change of the field's value per record over one definition change, in the order
/// records were first touched. One change may touch a record several times (activation and
/// conversion, conversion and deactivation, adoption and an inactive create); its
/// subscribers hear of it once, from the first value to the last. `Null`: no value.
#[derive(Default)]
struct Touched {
    order: Vec<Uuid>,
    values: HashMap<Uuid, (Value, Value)>,
}

impl Touched {
    fn record(&mut self, id: Uuid, from: Value, to: Value) {
        match self.values.entry(id) {
            Entry::Occupied(mut e) => e.get_mut().1 = to,
            Entry::Vacant(e) => {
                self.order.push(id);
                e.insert((from, to));
            }
        }
    }

    /// Hands the records whose value ended up different to `events`, which appends their
    /// update events (a change of `customFields.<key>`).
    async fn emit(
        self,
        conn: &mut AsyncPgConnection,
        actor: &Actor,
        entity: CustomFieldEntity,
        key: &str,
        events: &dyn RewriteEvents,
    ) -> Result<(), CustomFieldError> {
        let mut values = self.values;
        let records: Vec<Rewritten> = self
            .order
            .into_iter()
            .filter_map(|id| {
                let (from, to) = values.remove(&id)?;
                (from != to).then(|| Rewritten {
                    id,
                    changes: vec![Change {
                        field: format!("customFields.{key}"),
                        from,
                        to,
                    }],
                })
            })
            .collect();
        if !records.is_empty() {
            events
                .rewritten(conn, actor, entity.kind(), &records)
                .await?;
        }
        Ok(())
    }
}

/// Writes new values of `key` into the records (a new `version` each) and records one
/// `<type>.updated` activity entry per record with the `customFields.<key>` change.
async fn rewrite_values(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity: CustomFieldEntity,
    key: &str,
    rewrites: &[Rewrite],
    touched: &mut Touched,
) -> Result<(), CustomFieldError> {
    if rewrites.is_empty() {
        return Ok(());
    }
    for r in rewrites {
        touched.record(r.id, r.from.clone(), r.to.clone().unwrap_or(Value::Null));
    }
    let now = Utc::now();
    let ids: Vec<Uuid> = rewrites.iter().map(|r| r.id).collect();
    let values: Vec<Option<Value>> = rewrites.iter().map(|r| r.to.clone()).collect();
    diesel::sql_query(format!(
        "UPDATE {table} AS t SET custom_fields = CASE WHEN v.value IS NULL \
             THEN t.custom_fields - '{key}' \
             ELSE jsonb_set(t.custom_fields, '{{{key}}}', v.value) END, \
         updated_at = $1, version = t.version + 1 \
         FROM unnest($2::uuid[], $3::jsonb[]) AS v (id, value) WHERE t.id = v.id",
        table = entity.table()
    ))
    .bind::<Timestamptz, _>(now)
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<Nullable<Jsonb>>, _>(&values)
    .execute(conn)
    .await?;
    let activity_ids: Vec<Uuid> = rewrites.iter().map(|_| Uuid::now_v7()).collect();
    let changes: Vec<Value> = rewrites
        .iter()
        .map(|r| {
            serde_json::to_value([Change {
                field: format!("customFields.{key}"),
                from: r.from.clone(),
                to: r.to.clone().unwrap_or(Value::Null),
            }])
            .unwrap_or_default()
        })
        .collect();
    diesel::sql_query(
        "INSERT INTO activity (id, entity_type, entity_id, type, actor_id, api_key_id, changes, created_at) \
         SELECT a.id, $1, a.entity_id, $2, $3, $4, a.changes, $5 \
         FROM unnest($6::uuid[], $7::uuid[], $8::jsonb[]) AS a (id, entity_id, changes)",
    )
    .bind::<Text, _>(entity.as_str())
    .bind::<Text, _>(format!("{}.updated", entity.as_str()))
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(actor.user_id)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(actor.api_key_id.map(|k| k.0))
    .bind::<Timestamptz, _>(now)
    .bind::<Array<diesel::sql_types::Uuid>, _>(&activity_ids)
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<Jsonb>, _>(&changes)
    .execute(conn)
    .await?;
    Ok(())
}

/// Why stored values cannot take a new definition.
enum Refusal {
    /// This many records hold values that do not convert.
    Unconvertible(usize),
    /// This many records (outside the trash) would share a value of a unique field.
    Shared(usize),
}

/// Converts every stored value of the field to `target`'s type and options (a value that
/// converts to itself is left alone). Nothing is written unless every value converts and, for
/// a unique target, the converted values outside the trash are distinct.
async fn convert_values(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    before: &CustomField,
    target: &CustomField,
    touched: &mut Touched,
) -> Result<Result<(), Refusal>, CustomFieldError> {
    let stored = stored_values(conn, before.entity_type, &before.key).await?;
    let mut failed = 0;
    let mut rewrites = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for s in stored {
        let to = match convert(target.field_type, &target.options, &s.value) {
            Ok(to) => to,
            Err(_) => {
                failed += 1;
                continue;
            }
        };
        if let (false, Some(v)) = (s.trashed, &to) {
            // Canonical forms make equal values serialise identically.
            *seen.entry(v.to_string()).or_default() += 1;
        }
        if to.as_ref() != Some(&s.value) {
            rewrites.push(Rewrite {
                id: s.id,
                from: s.value,
                to,
            });
        }
    }
    if failed > 0 {
        return Ok(Err(Refusal::Unconvertible(failed)));
    }
    let shared: usize = seen.values().filter(|n| **n > 1).sum();
    if target.is_unique && shared > 0 {
        return Ok(Err(Refusal::Shared(shared)));
    }
    rewrite_values(
        conn,
        actor,
        before.entity_type,
        &before.key,
        &rewrites,
        touched,
    )
    .await?;
    Ok(Ok(()))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `ValuesNotUnique` when records outside the trash share a value of the field.
async fn ensure_unique(
    conn: &mut AsyncPgConnection,
    field: &CustomField,
) -> Result<(), CustomFieldError> {
    let key = &field.key;
    let dup: Count = diesel::sql_query(format!(
        "SELECT coalesce(sum(n), 0)::bigint AS n FROM ( \
           SELECT count(*) AS n FROM {} \
           WHERE deleted_at IS NULL AND (custom_fields -> '{key}') IS NOT NULL \
           GROUP BY custom_fields -> '{key}' HAVING count(*) > 1) d",
        field.entity_type.table()
    ))
    .get_result(conn)
    .await?;
    if dup.n > 0 {
        return Err(CustomFieldError::ValuesNotUnique {
            key: key.clone(),
            count: usize::try_from(dup.n).unwrap_or(usize::MAX),
        });
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Nullable<Jsonb>)]
    before: Option<Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    after: Option<Value>,
}

/// Moves the field's values out of the records into the archive (deactivation), in one
/// statement; the records lose the key in the API, so they get a new `version` (and
/// `updatedAt`, for incremental sync).
async fn archive_values(
    conn: &mut AsyncPgConnection,
    field: &CustomField,
    touched: &mut Touched,
) -> Result<(), CustomFieldError> {
    let (table, key) = (field.entity_type.table(), &field.key);
    let moved: Vec<Moved> = diesel::sql_query(format!(
        "WITH held AS ( \
             SELECT id, custom_fields -> '{key}' AS value FROM {table} \
             WHERE (custom_fields -> '{key}') IS NOT NULL \
         ), archived AS ( \
             INSERT INTO custom_field_archive (field_id, record_id, value) \
             SELECT $1, id, value FROM held \
             ON CONFLICT (field_id, record_id) DO UPDATE SET value = EXCLUDED.value \
         ), cleared AS ( \
             UPDATE {table} AS t SET custom_fields = t.custom_fields - '{key}', \
                 version = t.version + 1, updated_at = now() \
             FROM held WHERE t.id = held.id \
         ) \
         SELECT id, value AS before, NULL::jsonb AS after FROM held ORDER BY id"
    ))
    .bind::<diesel::sql_types::Uuid, _>(field.id)
    .load(conn)
    .await?;
    for m in moved {
        touched.record(m.id, m.before.unwrap_or(Value::Null), Value::Null);
    }
    Ok(())
}

/// Puts archived values back into the records that still exist (activation), in one
/// statement; the records show them again in the API, with a new `version` and `updatedAt`.
async fn restore_values(
    conn: &mut AsyncPgConnection,
    field: &CustomField,
    touched: &mut Touched,
) -> Result<(), CustomFieldError> {
    let (table, key) = (field.entity_type.table(), &field.key);
    let moved: Vec<Moved> = diesel::sql_query(format!(
        "WITH back AS ( \
             SELECT t.id, t.custom_fields -> '{key}' AS before, a.value AS after \
             FROM {table} t JOIN custom_field_archive a ON a.record_id = t.id \
             WHERE a.field_id = $1 \
         ), restored AS ( \
             UPDATE {table} AS t SET custom_fields = jsonb_set(t.custom_fields, '{{{key}}}', back.after), \
                 version = t.version + 1, updated_at = now() \
             FROM back WHERE t.id = back.id \
         ) \
         SELECT id, before, after FROM back ORDER BY id"
    ))
    .bind::<diesel::sql_types::Uuid, _>(field.id)
    .load(conn)
    .await?;
    diesel::delete(
        crm_db::schema::custom_field_archive::table
            .filter(crm_db::schema::custom_field_archive::field_id.eq(field.id)),
    )
    .execute(conn)
    .await?;
    for m in moved {
        touched.record(
            m.id,
            m.before.unwrap_or(Value::Null),
            m.after.unwrap_or(Value::Null),
        );
    }
    Ok(())
}

/// Renumbers the record type's fields 0..n-1 in their order, with `place` (a field and its
/// wanted position, clamped to the end) moved there. Fields that move get a new version,
/// except the placed one (its own update counts).
async fn renumber(
    conn: &mut AsyncPgConnection,
    entity: CustomFieldEntity,
    place: Option<(CustomFieldId, i32)>,
) -> Result<(), CustomFieldError> {
    let mut ids: Vec<CustomFieldId> = defs::table
        .filter(defs::entity_type.eq(entity.as_str()))
        .order((defs::position.asc(), defs::id.asc()))
        .select(defs::id)
        .load(conn)
        .await?;
    let mut placed = CustomFieldId::NIL;
    if let Some((id, wanted)) = place {
        ids.retain(|i| *i != id);
        let at = usize::try_from(wanted.max(0)).unwrap_or(0).min(ids.len());
        ids.insert(at, id);
        placed = id;
    }
    let positions: Vec<i32> = (0..ids.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    diesel::sql_query(
        "UPDATE custom_field_definitions AS d SET position = v.pos, \
           version = CASE WHEN d.id = $1 THEN d.version ELSE d.version + 1 END, \
           updated_at = CASE WHEN d.id = $1 THEN d.updated_at ELSE $2 END \
         FROM unnest($3::uuid[], $4::int4[]) AS v (id, pos) \
         WHERE d.id = v.id AND d.position <> v.pos",
    )
    .bind::<diesel::sql_types::Uuid, _>(placed)
    .bind::<Timestamptz, _>(Utc::now())
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<Int4>, _>(&positions)
    .execute(conn)
    .await?;
    Ok(())
}

async fn load(
    conn: &mut AsyncPgConnection,
    id: CustomFieldId,
    for_update: bool,
) -> Result<CustomField, CustomFieldError> {
    let query = defs::table.find(id).select(CustomFieldRow::as_select());
    let row = if for_update {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    row.map(CustomField::from)
        .ok_or(CustomFieldError::NotFound(id))
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Lists definitions (`custom_fields.read`) by record type and position.
pub async fn list_custom_fields(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &ListCustomFields,
) -> Result<Vec<CustomField>, CustomFieldError> {
    actor.require(Permission::CustomFieldsRead)?;
    let mut query = defs::table.into_boxed();
    if let Some(entity) = input.entity_type {
        query = query.filter(defs::entity_type.eq(entity.as_str()));
    }
    if let Some(active) = input.is_active {
        query = query.filter(defs::is_active.eq(active));
    }
    let rows: Vec<CustomFieldRow> = query
        .order((
            defs::entity_type.asc(),
            defs::position.asc(),
            defs::id.asc(),
        ))
        .select(CustomFieldRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(CustomField::from).collect())
}

/// Reads a definition (`custom_fields.read`).
pub async fn get_custom_field(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CustomFieldId,
) -> Result<CustomField, CustomFieldError> {
    actor.require(Permission::CustomFieldsRead)?;
    load(conn, id, false).await
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Creates a definition (`custom_fields.manage`) with its indexes. Records that already hold a
/// value under the key (written before any definition existed) must convert to the new type,
/// or the create answers 409 `values_do_not_convert`; a unique field needs distinct values.
/// Records whose value the adoption converts (or an inactive field hides) get their update
/// events through `events`.
pub async fn create_custom_field(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreateCustomField,
    events: &dyn RewriteEvents,
) -> Result<CustomField, CustomFieldError> {
    actor.require(Permission::CustomFieldsManage)?;
    // The input's own rules (garde); those between its fields follow.
    let mut errors = checks::errors(&input);
    let key = input.key.trim().to_owned();
    let name = match input.name.as_deref() {
        Some(name) => name.trim().to_owned(),
        None => key.clone(),
    };
    let kind = input.field_type;
    let options = check_options(kind, input.options, &mut errors);
    let default = check_rules(
        kind,
        &options,
        input.is_unique,
        input.default_value.as_ref(),
        &mut errors,
    );
    finish(errors)?;
    let entity = input.entity_type;
    conn.transaction(async |conn| {
        lock_exclusive(conn, entity).await?;
        let existing: Vec<String> = defs::table
            .filter(defs::entity_type.eq(entity.as_str()))
            .select(defs::key)
            .load(conn)
            .await?;
        if existing.contains(&key) {
            return Err(CustomFieldError::DuplicateKey {
                entity,
                key: key.clone(),
            });
        }
        if existing.len() >= MAX_FIELDS {
            return Err(CustomFieldError::TooMany {
                entity,
                max: MAX_FIELDS,
            });
        }
        let now = Utc::now();
        let id = CustomFieldId::new();
        let row: CustomFieldRow = diesel::insert_into(defs::table)
            .values((
                defs::id.eq(id),
                defs::entity_type.eq(entity.as_str()),
                defs::key.eq(&key),
                defs::name.eq(&name),
                defs::kind.eq(kind.as_str()),
                defs::options.eq(&options),
                defs::is_required.eq(input.is_required),
                defs::is_unique.eq(input.is_unique),
                defs::default_value.eq(&default),
                defs::position.eq(i32::try_from(existing.len()).unwrap_or(i32::MAX)),
                defs::is_active.eq(input.is_active.unwrap_or(true)),
                defs::created_at.eq(now),
                defs::updated_at.eq(now),
            ))
            .returning(CustomFieldRow::as_returning())
            .get_result(conn)
            .await?;
        let mut field = CustomField::from(row);
        lock_records(conn, entity).await?;
        let mut touched = Touched::default();
        // Values stored under the key before it had a definition are adopted if they fit.
        match convert_values(conn, actor, &field, &field, &mut touched).await? {
            Ok(()) => {}
            Err(Refusal::Unconvertible(count)) => {
                return Err(CustomFieldError::ValuesDoNotConvert {
                    key: key.clone(),
                    to: kind,
                    count,
                });
            }
            Err(Refusal::Shared(count)) => {
                return Err(CustomFieldError::ValuesNotUnique {
                    key: key.clone(),
                    count,
                });
            }
        }
        if !field.is_active {
            archive_values(conn, &field, &mut touched).await?;
        }
        if let Some(position) = input.position {
            renumber(conn, entity, Some((id, position))).await?;
            field = load(conn, id, false).await?;
        }
        crm_activity::record(
            conn,
            actor,
            EntityRef::of(id),
            "custom_field.created",
            &change::created(&field.to_json()),
        )
        .await?;
        touched.emit(conn, actor, entity, &key, events).await?;
        sync_indexes(conn, &field).await?;
        Ok(field)
    })
    .await
}

/// Changes a definition (`custom_fields.manage`). Renaming, adding or reordering options,
/// moving it and changing `isRequired` or the default touch no record. A new type or a
/// removed option converts every stored value (409 if some do not convert, counting the
/// records in the way); `isUnique: true` needs distinct values; `isActive: false` moves the
/// values out of the records (kept), `true` brings them back. Every record outside the trash
/// whose value this changes gets its update events through `events`, once, with its net
/// change.
pub async fn update_custom_field(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CustomFieldId,
    input: UpdateCustomField,
    expected_version: Option<i32>,
    events: &dyn RewriteEvents,
) -> Result<CustomField, CustomFieldError> {
    actor.require(Permission::CustomFieldsManage)?;
    let invalid = checks::errors(&input);
    conn.transaction(async |conn| {
        let entity = load(conn, id, false).await?.entity_type;
        lock_exclusive(conn, entity).await?;
        let before = load(conn, id, true).await?;
        crm_core::check_version(expected_version, before.version)?;
        let mut errors = invalid.clone();
        if input.key.as_ref().is_some_and(|k| *k != before.key) {
            errors.push(FieldError::new("key", "cannot be changed"));
        }
        if input.entity_type.is_some_and(|e| e != before.entity_type) {
            errors.push(FieldError::new("entityType", "cannot be changed"));
        }
        let name = input
            .name
            .as_deref()
            .map_or(before.name.clone(), |n| n.trim().to_owned());
        let kind = input.field_type.unwrap_or(before.field_type);
        let options = match input.options.clone() {
            Some(options) => check_options(kind, options, &mut errors),
            None if kind.has_options() => check_options(kind, before.options.clone(), &mut errors),
            None => Vec::new(),
        };
        let is_unique = input.is_unique.unwrap_or(before.is_unique);
        let data_change = kind != before.field_type || options != before.options;
        let default = match &input.default_value {
            Some(d) => d.clone(),
            None if data_change => match &before.default_value {
                Some(d) => match convert(kind, &options, d) {
                    Ok(v) => v,
                    Err(_) => {
                        errors.push(FieldError::new(
                            "defaultValue",
                            "the current default does not fit the new type or options; \
                             send a new defaultValue or null",
                        ));
                        None
                    }
                },
                None => None,
            },
            None => before.default_value.clone(),
        };
        let default = check_rules(kind, &options, is_unique, default.as_ref(), &mut errors);
        finish(errors)?;
        let is_active = input.is_active.unwrap_or(before.is_active);
        let after = CustomField {
            name,
            field_type: kind,
            options,
            is_required: input.is_required.unwrap_or(before.is_required),
            is_unique,
            default_value: default,
            is_active,
            ..before.clone()
        };
        let touches_values = data_change || (is_unique && !before.is_unique);
        if !before.is_active && !is_active && touches_values {
            return Err(CustomFieldError::Inactive(before.key.clone()));
        }
        if touches_values || is_active != before.is_active {
            lock_records(conn, entity).await?;
        }
        let mut touched = Touched::default();
        if is_active && !before.is_active {
            restore_values(conn, &before, &mut touched).await?;
        }
        if data_change {
            // Canonical forms are fixed points of the conversion, so the rewrite never meets
            // a duplicate of the unique index that the final values would not have.
            match convert_values(conn, actor, &before, &after, &mut touched).await? {
                Ok(()) => {}
                Err(Refusal::Unconvertible(count)) if kind == before.field_type => {
                    return Err(CustomFieldError::OptionInUse {
                        key: before.key.clone(),
                        count,
                    });
                }
                Err(Refusal::Unconvertible(count)) => {
                    return Err(CustomFieldError::ValuesDoNotConvert {
                        key: before.key.clone(),
                        to: kind,
                        count,
                    });
                }
                Err(Refusal::Shared(count)) => {
                    return Err(CustomFieldError::ValuesNotUnique {
                        key: before.key.clone(),
                        count,
                    });
                }
            }
        } else if is_unique && !before.is_unique {
            ensure_unique(conn, &after).await?;
        }
        if before.is_active && !is_active {
            archive_values(conn, &after, &mut touched).await?;
        }
        let row: CustomFieldRow = diesel::update(defs::table.find(id))
            .set((
                defs::name.eq(&after.name),
                defs::kind.eq(after.field_type.as_str()),
                defs::options.eq(&after.options),
                defs::is_required.eq(after.is_required),
                defs::is_unique.eq(after.is_unique),
                defs::default_value.eq(&after.default_value),
                defs::is_active.eq(after.is_active),
                defs::updated_at.eq(Utc::now()),
                defs::version.eq(defs::version + 1),
            ))
            .returning(CustomFieldRow::as_returning())
            .get_result(conn)
            .await?;
        let mut saved = CustomField::from(row);
        if let Some(position) = input.position.filter(|p| *p != before.position) {
            renumber(conn, entity, Some((id, position))).await?;
            saved = load(conn, id, false).await?;
        }
        let changes = change::diff(&before.to_json(), &saved.to_json());
        if !changes.is_empty() {
            crm_activity::record(
                conn,
                actor,
                EntityRef::of(id),
                "custom_field.updated",
                &changes,
            )
            .await?;
        }
        touched
            .emit(conn, actor, entity, &before.key, events)
            .await?;
        // Index DDL last: dropping an index locks out readers of the table until commit.
        if touches_values || after.is_unique != before.is_unique {
            sync_indexes(conn, &saved).await?;
        }
        Ok(saved)
    })
    .await
}

/// Deletes a definition (`custom_fields.manage`) and its values from every record (trashed
/// ones too, each with a new version and an activity entry), archived values and indexes.
/// Records outside the trash that lose a value get their update events through `events`.
pub async fn delete_custom_field(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CustomFieldId,
    expected_version: Option<i32>,
    events: &dyn RewriteEvents,
) -> Result<(), CustomFieldError> {
    actor.require(Permission::CustomFieldsManage)?;
    conn.transaction(async |conn| {
        let entity = load(conn, id, false).await?.entity_type;
        lock_exclusive(conn, entity).await?;
        let field = load(conn, id, true).await?;
        crm_core::check_version(expected_version, field.version)?;
        lock_records(conn, entity).await?;
        let rewrites: Vec<Rewrite> = stored_values(conn, entity, &field.key)
            .await?
            .into_iter()
            .map(|s| Rewrite {
                id: s.id,
                from: s.value,
                to: None,
            })
            .collect();
        let mut touched = Touched::default();
        rewrite_values(conn, actor, entity, &field.key, &rewrites, &mut touched).await?;
        diesel::delete(defs::table.find(id)).execute(conn).await?;
        renumber(conn, entity, None).await?;
        crm_activity::record(
            conn,
            actor,
            EntityRef::of(id),
            "custom_field.deleted",
            &change::diff(&field.to_json(), &Value::Object(Default::default())),
        )
        .await?;
        touched
            .emit(conn, actor, entity, &field.key, events)
            .await?;
        // Last: dropping an index locks out readers of the table until commit.
        drop_indexes(conn, entity, &field.key).await?;
        Ok(())
    })
    .await
}

/// Puts a record type's fields in a new order (`custom_fields.manage`); answers the fields
/// in that order.
pub async fn reorder_custom_fields(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: ReorderCustomFields,
) -> Result<Vec<CustomField>, CustomFieldError> {
    actor.require(Permission::CustomFieldsManage)?;
    let entity = input.entity_type;
    conn.transaction(async |conn| {
        lock_exclusive(conn, entity).await?;
        let current: Vec<CustomFieldId> = defs::table
            .filter(defs::entity_type.eq(entity.as_str()))
            .order((defs::position.asc(), defs::id.asc()))
            .select(defs::id)
            .load(conn)
            .await?;
        let wanted: HashSet<CustomFieldId> = input.field_ids.iter().copied().collect();
        let known: HashSet<CustomFieldId> = current.iter().copied().collect();
        if wanted.len() != input.field_ids.len() || wanted != known {
            return Err(CustomFieldError::invalid(
                "fieldIds",
                format!(
                    "must list every custom field id of {} exactly once",
                    entity.plural()
                ),
            ));
        }
        if input.field_ids != current {
            let positions: Vec<i32> = (0..input.field_ids.len())
                .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
                .collect();
            diesel::sql_query(
                "UPDATE custom_field_definitions AS d SET position = v.pos, updated_at = $1, \
                        version = d.version + 1 \
                 FROM unnest($2::uuid[], $3::int4[]) AS v (id, pos) \
                 WHERE d.id = v.id AND d.position IS DISTINCT FROM v.pos",
            )
            .bind::<Timestamptz, _>(Utc::now())
            .bind::<Array<diesel::sql_types::Uuid>, _>(&input.field_ids)
            .bind::<Array<Int4>, _>(&positions)
            .execute(conn)
            .await?;
            let changes = [Change {
                field: "fieldIds".into(),
                from: serde_json::json!(current),
                to: serde_json::json!(input.field_ids),
            }];
            for id in &input.field_ids {
                crm_activity::record(
                    conn,
                    actor,
                    EntityRef::of(*id),
                    "custom_field.reordered",
                    &changes,
                )
                .await?;
            }
        }
        list_custom_fields(
            conn,
            actor,
            &ListCustomFields {
                entity_type: Some(entity),
                is_active: None,
            },
        )
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_snake_case_of_at_most_48_characters() {
        for ok in ["a", "budget", "renewal_date_2", &"k".repeat(48)] {
            assert!(is_valid_key(ok), "{ok}");
        }
        for bad in [
            "",
            "Budget",
            "1st",
            "_x",
            "a-b",
            "a b",
            "ключ",
            &"k".repeat(49),
            "a.b",
        ] {
            assert!(!is_valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn definitions_check_options_uniqueness_and_defaults() {
        let mut e = Vec::new();
        let o = check_options(
            FieldType::Select,
            vec![" a ".into(), "A".into(), "".into()],
            &mut e,
        );
        assert_eq!(o, ["a", "A", ""]);
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["options[1]", "options[2]"]);

        let mut e = Vec::new();
        check_options(FieldType::Text, vec!["x".into()], &mut e);
        assert_eq!(e[0].field, "options");

        let mut e = Vec::new();
        check_options(FieldType::MultiSelect, vec![], &mut e);
        assert_eq!(e[0].field, "options");

        let mut e = Vec::new();
        let d = check_rules(
            FieldType::Number,
            &[],
            false,
            Some(&serde_json::json!("5")),
            &mut e,
        );
        assert_eq!((d, e.len()), (Some(serde_json::json!(5)), 0));

        let mut e = Vec::new();
        check_rules(FieldType::Boolean, &[], true, None, &mut e);
        check_rules(
            FieldType::Text,
            &[],
            true,
            Some(&serde_json::json!("x")),
            &mut e,
        );
        check_rules(
            FieldType::Date,
            &[],
            false,
            Some(&serde_json::json!("soon")),
            &mut e,
        );
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["isUnique", "defaultValue", "defaultValue"]);
    }
}
