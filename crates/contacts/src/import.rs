//! Contacts written by an import, a batch at a time and set-based: every row meets the rules
//! of `create_contact` (the same validation, normalisation, custom fields, owner and company
//! checks), rows that do not are reported with their field errors, and the good ones are
//! inserted in one statement with one statement of timeline entries.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use crm_core::{Actor, ContactId, EntityRef, FieldError, Permission, checks};
use crm_custom_fields::{CustomFieldEntity, FieldSet, gather};
use crm_db::AsyncPgConnection;
use crm_db::import_keys::{Clash, UpsertBy};
use crm_db::schema::contacts;
use crm_db::sql::lower;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;

use crate::error::ContactError;
use crate::input::{CreateContact, UpdateContact};
use crate::model::{Contact, ContactRow};
use crate::service::{ContactValues, Draft};

/// One row of a file, as a new contact.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Line number in the file (header = 1).
    pub line: u64,
    /// The contact's fields.
    pub input: CreateContact,
    /// The company by name (found, or created when missing).
    pub company_name: Option<String>,
    /// The owner by e-mail (an active user).
    pub owner_email: Option<String>,
}

pub use crm_db::import_keys::BatchOutcome;

/// The in-file key of a contact: its e-mail, which is unique.
fn key_of(values: &ContactValues) -> Option<String> {
    values.email.clone()
}

/// Imports `rows` as new contacts in the caller's transaction (`contacts.write`). `import` is
/// the import's id: its keys find duplicates inside the file, and every contact's timeline
/// entry names it. With `dry_run` the checks run exactly as they would and nothing but the
/// import's own bookkeeping is written. With `upsert` (`Email` or `Phone`), a row whose key one
/// live contact the actor may read has updates that contact (`update_contact`'s rules: the
/// row's filled cells change, the others stay) instead of creating one.
pub async fn import_batch(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    rows: Vec<ImportRow>,
    dry_run: bool,
    upsert: Option<UpsertBy>,
) -> Result<BatchOutcome, ContactError> {
    actor.require(Permission::ContactsWrite)?;
    let fields = FieldSet::for_write(conn, CustomFieldEntity::Contact).await?;
    let mut outcome = BatchOutcome::default();
    let owners = crm_db::links::active_users_by_email(
        conn,
        rows.iter().filter_map(|r| r.owner_email.as_deref()),
    )
    .await?;
    let names: Vec<String> = rows.iter().filter_map(|r| r.company_name.clone()).collect();
    // Companies are found (or created) before the savepoint: a dry run must not create them,
    // so it only looks.
    let companies = if dry_run {
        crm_companies::import::find_names(conn, actor, &names).await?
    } else {
        crm_companies::import::resolve_names(conn, actor, &names).await?
    };
    // Names to ids, for the rows that create and the rows that update alike.
    let mut linked = Vec::with_capacity(rows.len());
    for mut row in rows {
        let mut errors = Vec::new();
        if let Some(email) = row
            .owner_email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match owners.get(&email.to_lowercase()) {
                Some(id) => row.input.owner_id = Some(*id),
                None => errors.push(FieldError::new(
                    "ownerEmail",
                    "no active user has this e-mail (or this name or login)",
                )),
            }
        }
        if let Some(name) = row.company_name.as_deref().filter(|n| !n.trim().is_empty()) {
            match companies.get(&crm_companies::import::name_key(name)) {
                Some(Ok(id)) => row.input.company_id = Some(*id),
                Some(Err(why)) => errors.push(FieldError::new("companyName", why.clone())),
                // Only a dry run leaves a name unresolved: the real run would create it.
                None => {}
            }
        }
        linked.push((row, errors));
    }
    let linked = match upsert {
        Some(by) => update_matched(conn, actor, import, linked, by, dry_run, &mut outcome).await?,
        None => linked,
    };
    let mut valid: Vec<(u64, ContactValues)> = Vec::with_capacity(linked.len());
    for (row, mut errors) in linked {
        errors.extend(checks::errors(&row.input));
        let (draft, custom) = Draft::from_input(row.input, actor);
        let custom = gather(fields.validate_create(custom.as_ref()), &mut errors)?;
        match draft.normalized(errors) {
            Ok(mut values) => {
                values.custom_fields = custom;
                valid.push((row.line, values));
            }
            Err(ContactError::Invalid(errors)) => outcome.failures.push((row.line, errors)),
            Err(e) => return Err(e),
        }
    }
    let valid = without_duplicates(conn, import, valid, &mut outcome).await?;
    // A unique custom field, or a contact written by someone else meanwhile, refuses a row.
    let (created, refused) =
        crm_db::import_keys::write_rows(conn, &Writer { actor, import }, valid, dry_run).await?;
    outcome.created = created;
    outcome.failures.extend(refused);
    Ok(outcome)
}

/// Drops rows whose e-mail an earlier row of the file (this batch or another) or a live contact
/// already has, reporting them.
async fn without_duplicates(
    conn: &mut AsyncPgConnection,
    import: Uuid,
    valid: Vec<(u64, ContactValues)>,
    outcome: &mut BatchOutcome,
) -> Result<Vec<(u64, ContactValues)>, ContactError> {
    let keys: Vec<String> = valid.iter().filter_map(|(_, v)| key_of(v)).collect();
    let existing: HashSet<String> = contacts::table
        .filter(lower(contacts::email.assume_not_null()).eq_any(&keys))
        .filter(contacts::deleted_at.is_null())
        .select(lower(contacts::email.assume_not_null()))
        .load::<String>(conn)
        .await?
        .into_iter()
        .collect();
    let keyed = valid
        .into_iter()
        .map(|(line, v)| (line, key_of(&v), v))
        .collect();
    let (kept, clashes) = crm_db::import_keys::sort_out(conn, import, keyed, &existing).await?;
    for (line, clash) in clashes {
        let message = match clash {
            Clash::EarlierRow => "an earlier row of the file has this e-mail",
            Clash::Exists => "a contact with this e-mail already exists",
        };
        outcome
            .failures
            .push((line, vec![FieldError::new("email", message)]));
    }
    Ok(kept)
}

/// Rows per INSERT (its columns travel as arrays, so the statement's text never changes).
const ROWS_PER_STATEMENT: usize = 2000;

/// Inserts a chunk with one fixed statement over arrays: PostgreSQL parses and plans it once
/// per connection, where a multi-row VALUES list of each chunk's size was planned every time.
async fn insert_chunk(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    now: chrono::DateTime<Utc>,
    chunk: &[(u64, ContactValues)],
) -> Result<Vec<Contact>, ContactError> {
    use diesel::sql_types::{Array, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let column = |f: fn(&ContactValues) -> Option<String>| -> Vec<Option<String>> {
        chunk.iter().map(|(_, v)| f(v)).collect()
    };
    let ids: Vec<ContactId> = chunk.iter().map(|_| ContactId::new()).collect();
    let names: Vec<&str> = chunk.iter().map(|(_, v)| v.full_name.as_str()).collect();
    let companies: Vec<Option<uuid::Uuid>> = chunk
        .iter()
        .map(|(_, v)| v.company_id.map(|c| c.0))
        .collect();
    let owners: Vec<Option<uuid::Uuid>> =
        chunk.iter().map(|(_, v)| v.owner_id.map(|o| o.0)).collect();
    let tags: Vec<serde_json::Value> = chunk.iter().map(|(_, v)| json!(v.tags)).collect();
    let social: Vec<&serde_json::Value> = chunk.iter().map(|(_, v)| &v.social).collect();
    let custom: Vec<&serde_json::Value> = chunk.iter().map(|(_, v)| &v.custom_fields).collect();
    let rows: Vec<ContactRow> = diesel::sql_query(
        "INSERT INTO contacts (id, full_name, email, phone, position, company_id, tags, notes, \
           social, custom_fields, owner_id, created_by_id, created_at, updated_at) \
         SELECT r.id, r.full_name, r.email, r.phone, r.position, r.company_id, \
           ARRAY(SELECT jsonb_array_elements_text(r.tags)), r.notes, r.social, r.custom_fields, \
           r.owner_id, $12, $13, $13 \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], \
           $7::jsonb[], $8::text[], $9::jsonb[], $10::jsonb[], $11::uuid[]) \
           AS r(id, full_name, email, phone, position, company_id, tags, notes, social, \
                custom_fields, owner_id) \
         RETURNING *",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Text>, _>(&names)
    .bind::<Array<Nullable<Text>>, _>(column(|v| v.email.clone()))
    .bind::<Array<Nullable<Text>>, _>(column(|v| v.phone.clone()))
    .bind::<Array<Nullable<Text>>, _>(column(|v| v.position.clone()))
    .bind::<Array<Nullable<SqlUuid>>, _>(&companies)
    .bind::<Array<Jsonb>, _>(&tags)
    .bind::<Array<Nullable<Text>>, _>(column(|v| v.notes.clone()))
    .bind::<Array<Jsonb>, _>(&social)
    .bind::<Array<Jsonb>, _>(&custom)
    .bind::<Array<Nullable<SqlUuid>>, _>(&owners)
    .bind::<Nullable<SqlUuid>, _>(actor.user_id.map(|u| u.0))
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(Contact::from).collect())
}

async fn insert(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    valid: Vec<(u64, ContactValues)>,
) -> Result<u64, ContactError> {
    if valid.is_empty() {
        return Ok(0);
    }
    crm_db::import_keys::register_tags(conn, valid.iter().flat_map(|(_, v)| &v.tags)).await?;
    let now = Utc::now();
    let mut written: Vec<Contact> = Vec::with_capacity(valid.len());
    for chunk in valid.chunks(ROWS_PER_STATEMENT) {
        written.extend(insert_chunk(conn, actor, now, chunk).await?);
    }
    let shown = written.iter().map(|c| (EntityRef::of(c.id), c.to_json()));
    crm_activity::record_imported(conn, actor, import, "contact.created", shown).await?;
    Ok(written.len() as u64)
}

/// Inserts an import's checked rows for [`crm_db::import_keys::write_rows`].
struct Writer<'a> {
    actor: &'a Actor,
    import: Uuid,
}

impl crm_db::import_keys::BatchWriter for Writer<'_> {
    type Row = ContactValues;
    type Error = ContactError;

    async fn insert(
        &self,
        conn: &mut AsyncPgConnection,
        rows: Vec<(u64, ContactValues)>,
    ) -> Result<u64, ContactError> {
        insert(conn, self.actor, self.import, rows).await
    }
}

/// The row's upsert key, normalised as stored (`None`: the row has none, or no valid one).
fn upsert_key(row: &ImportRow, by: UpsertBy) -> Option<String> {
    match by {
        UpsertBy::Email => row
            .input
            .email
            .as_deref()
            .and_then(|e| crm_core::normalize::email(e).ok()),
        UpsertBy::Phone => row
            .input
            .phone
            .as_deref()
            .and_then(|p| crm_core::normalize::phone(p).ok()),
        UpsertBy::Name | UpsertBy::Number => None,
    }
}

/// Updates the contacts that rows of an upserting import match; the rows left create.
async fn update_matched(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    rows: Vec<(ImportRow, Vec<FieldError>)>,
    by: UpsertBy,
    dry_run: bool,
    outcome: &mut BatchOutcome,
) -> Result<Vec<(ImportRow, Vec<FieldError>)>, ContactError> {
    let field = match by {
        UpsertBy::Phone => "phone",
        _ => "email",
    };
    let keyed: Vec<_> = rows
        .into_iter()
        .map(|(row, errors)| (row.line, upsert_key(&row, by), (row, errors)))
        .collect();
    let keys: Vec<String> = keyed.iter().filter_map(|(_, k, _)| k.clone()).collect();
    let mut existing: HashMap<String, Vec<ContactId>> = HashMap::new();
    if !keys.is_empty() {
        let live = contacts::table
            .filter(contacts::deleted_at.is_null())
            .filter(crm_db::visibility::contacts(actor));
        let found: Vec<(ContactId, Option<String>)> = match by {
            UpsertBy::Phone => {
                live.filter(contacts::phone.eq_any(&keys))
                    .select((contacts::id, contacts::phone))
                    .load(conn)
                    .await?
            }
            _ => {
                live.filter(lower(contacts::email.assume_not_null()).eq_any(&keys))
                    .select((contacts::id, contacts::email))
                    .load(conn)
                    .await?
            }
        };
        for (id, key) in found {
            if let Some(key) = key {
                existing.entry(key.to_lowercase()).or_default().push(id);
            }
        }
    }
    let sorted = crm_db::import_keys::sort_upserts(conn, import, keyed, &existing).await?;
    for (line, clash) in sorted.clashes {
        outcome
            .failures
            .push((line, vec![clash.error(field, "contacts")]));
    }
    let mut updates = Vec::with_capacity(sorted.update.len());
    for (line, id, (row, errors)) in sorted.update {
        if errors.is_empty() {
            updates.push((line, id, patch_of(row.input)));
        } else {
            outcome.failures.push((line, errors));
        }
    }
    let (updated, refused) =
        crm_db::import_keys::update_rows(conn, &Updater { actor }, updates, dry_run).await?;
    outcome.updated = updated;
    outcome.failures.extend(refused);
    Ok(sorted.create.into_iter().map(|(_, row)| row).collect())
}

/// A row as the change it makes to a contact it matches: every filled cell, nothing else.
fn patch_of(input: CreateContact) -> UpdateContact {
    let name = input.full_name.trim().to_owned();
    UpdateContact {
        full_name: (!name.is_empty()).then_some(Some(name)),
        email: input.email.map(Some),
        phone: input.phone.map(Some),
        position: input.position.map(Some),
        company_id: input.company_id.map(Some),
        tags: (!input.tags.is_empty()).then_some(input.tags),
        notes: input.notes.map(Some),
        social: input.social.map(Some),
        owner_id: input.owner_id.map(Some),
        custom_fields: input.custom_fields,
    }
}

/// Updates a matched contact for [`crm_db::import_keys::update_rows`].
struct Updater<'a> {
    actor: &'a Actor,
}

impl crm_db::import_keys::RowUpdater for Updater<'_> {
    type Id = ContactId;
    type Row = UpdateContact;
    type Error = ContactError;

    async fn update(
        &self,
        conn: &mut AsyncPgConnection,
        id: ContactId,
        row: UpdateContact,
    ) -> Result<(), ContactError> {
        crate::service::update_contact(conn, self.actor, id, row, None)
            .await
            .map(drop)
    }
}
