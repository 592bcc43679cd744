//! Companies named by imported rows (a contact's or a deal's `companyName`): found by name
//! case-insensitively among the live companies the actor may see, created when missing.

use std::collections::HashMap;

use crm_core::{Actor, CompanyId, Permission};
use crm_db::AsyncPgConnection;
use crm_db::import_keys::UpsertBy;
use crm_db::schema::companies;
use crm_db::sql::lower;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::CompanyError;
use crate::input::CreateCompany;

/// The key a company name is matched by.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The companies of `names` that exist (by [`name_key`]), as [`resolve_names`] finds them;
/// names of no company are left out (a dry run's view: it would create them).
pub async fn find_names(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    names: &[String],
) -> Result<HashMap<String, Result<CompanyId, String>>, CompanyError> {
    let (mut found, missing) = lookup(conn, actor, names).await?;
    for (key, name) in missing {
        // What the real run would refuse is refused here too.
        if let Err(why) = creatable(actor, name) {
            found.insert(key, Err(why));
        }
    }
    Ok(found)
}

/// The input that creates a company of this name, or why it would be refused.
fn creatable(actor: &Actor, name: String) -> Result<CreateCompany, String> {
    if !actor.can(Permission::CompaniesWrite) {
        return Err("no such company (creating one needs companies.write)".to_owned());
    }
    let input = CreateCompany {
        name,
        ..CreateCompany::default()
    };
    let errors = crm_core::checks::errors(&input);
    match <[crm_core::FieldError]>::first(&errors) {
        Some(e) => Err(format!("the company cannot be created: {}", e.message)),
        None => Ok(input),
    }
}

/// The company of each name (by [`name_key`]): found, created (one `create_company` each, with
/// its checks, timeline entry and default custom fields), or why not (a message for the row).
/// A name held by a company the actor may not see is refused rather than duplicated.
pub async fn resolve_names(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    names: &[String],
) -> Result<HashMap<String, Result<CompanyId, String>>, CompanyError> {
    let (mut resolved, wanted) = lookup(conn, actor, names).await?;
    for (key, name) in wanted {
        let answer = match creatable(actor, name) {
            Ok(input) => match crate::service::create_company(conn, actor, input).await {
                Ok(company) => Ok(company.id),
                Err(CompanyError::Db(e)) => return Err(CompanyError::Db(e)),
                Err(e) => Err(format!("the company cannot be created: {e}")),
            },
            Err(why) => Err(why),
        };
        resolved.insert(key, answer);
    }
    Ok(resolved)
}

type Found = HashMap<String, Result<CompanyId, String>>;

/// The companies found by name, and the names (by key) of none.
async fn lookup(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    names: &[String],
) -> Result<(Found, HashMap<String, String>), CompanyError> {
    let mut wanted: HashMap<String, String> = HashMap::new();
    for name in names {
        let name = name.trim();
        if !name.is_empty() {
            wanted
                .entry(name_key(name))
                .or_insert_with(|| name.to_owned());
        }
    }
    let keys: Vec<String> = wanted.keys().cloned().collect();
    let live = || {
        companies::table
            .filter(lower(companies::name).eq_any(keys.clone()))
            .filter(companies::deleted_at.is_null())
    };
    let found: Vec<(CompanyId, String)> = live()
        .select((companies::id, lower(companies::name)))
        .load(conn)
        .await?;
    let visible: Vec<CompanyId> = live()
        .filter(crm_db::visibility::companies(actor))
        .select(companies::id)
        .load(conn)
        .await?;
    let mut resolved = HashMap::new();
    for (id, key) in found {
        let answer = if visible.contains(&id) {
            Ok(id)
        } else {
            Err("a company of this name exists that you may not see".to_owned())
        };
        wanted.remove(&key);
        resolved.insert(key, answer);
    }
    Ok((resolved, wanted))
}

/// One row of a companies file.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Line number in the file (header = 1).
    pub line: u64,
    /// The company's fields.
    pub input: CreateCompany,
}

pub use crm_db::import_keys::BatchOutcome;

/// Imports `rows` as new companies in the caller's transaction (`companies.write`), with the
/// rules of `create_company`, set-based; a name an earlier row or a live company has is
/// refused. With `dry_run` nothing but the import's bookkeeping is written. With `upsert`
/// (`Name`, `Email` or `Phone`), a row whose key one live company the actor may read has
/// updates it (`update_company`'s rules: filled cells change, the others stay) instead.
pub async fn import_batch(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: uuid::Uuid,
    rows: Vec<ImportRow>,
    dry_run: bool,
    upsert: Option<UpsertBy>,
) -> Result<BatchOutcome, CompanyError> {
    use crm_custom_fields::{CustomFieldEntity, FieldSet, gather};
    use crm_db::import_keys::Clash;

    actor.require(Permission::CompaniesWrite)?;
    let fields = FieldSet::for_write(conn, CustomFieldEntity::Company).await?;
    let mut outcome = BatchOutcome::default();
    let rows = match upsert {
        Some(by) => update_matched(conn, actor, import, rows, by, dry_run, &mut outcome).await?,
        None => rows,
    };
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        let mut errors = crm_core::checks::errors(&row.input);
        let (draft, custom) = crate::service::CompanyValues::from_input(row.input, actor);
        let custom = gather(fields.validate_create(custom.as_ref()), &mut errors)?;
        match draft.normalized(errors) {
            Ok(mut values) => {
                values.custom_fields = custom;
                let key = name_key(&values.name);
                valid.push((row.line, Some(key), values));
            }
            Err(CompanyError::Invalid(errors)) => outcome.failures.push((row.line, errors)),
            Err(e) => return Err(e),
        }
    }
    let keys: Vec<String> = valid.iter().filter_map(|(_, k, _)| k.clone()).collect();
    let existing: std::collections::HashSet<String> = companies::table
        .filter(lower(companies::name).eq_any(&keys))
        .filter(companies::deleted_at.is_null())
        .select(lower(companies::name))
        .load::<String>(conn)
        .await?
        .into_iter()
        .collect();
    let (kept, clashes) = crm_db::import_keys::sort_out(conn, import, valid, &existing).await?;
    for (line, clash) in clashes {
        let message = match clash {
            Clash::EarlierRow => "an earlier row of the file has this name",
            Clash::Exists => "a company with this name already exists",
        };
        outcome
            .failures
            .push((line, vec![crm_core::FieldError::new("name", message)]));
    }
    // A unique custom field's value taken, or a name written meanwhile, refuses a row.
    let (created, refused) =
        crm_db::import_keys::write_rows(conn, &Writer { actor, import }, kept, dry_run).await?;
    outcome.created = created;
    outcome.failures.extend(refused);
    Ok(outcome)
}

/// Rows per INSERT: 15 parameters each, far below PostgreSQL's 65 535 per statement.
const ROWS_PER_STATEMENT: usize = 2000;

async fn insert(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: uuid::Uuid,
    rows: Vec<(u64, crate::service::CompanyValues)>,
) -> Result<u64, CompanyError> {
    use crate::model::Company;
    use crm_core::EntityRef;

    if rows.is_empty() {
        return Ok(0);
    }
    crm_db::import_keys::register_tags(conn, rows.iter().flat_map(|(_, v)| &v.tags)).await?;
    let now = chrono::Utc::now();
    let values: Vec<_> = rows
        .into_iter()
        .map(|(_, v)| {
            (
                companies::id.eq(CompanyId::new()),
                v,
                companies::created_by_id.eq(actor.user_id),
                companies::created_at.eq(now),
                companies::updated_at.eq(now),
            )
        })
        .collect();
    let mut written: Vec<Company> = Vec::with_capacity(values.len());
    for chunk in values.chunks(ROWS_PER_STATEMENT) {
        let inserted: Vec<Company> = diesel::insert_into(companies::table)
            .values(chunk)
            .returning(Company::as_returning())
            .get_results(conn)
            .await?;
        written.extend(inserted);
    }
    let shown = written.iter().map(|c| (EntityRef::of(c.id), c.to_json()));
    crm_activity::record_imported(conn, actor, import, "company.created", shown).await?;
    Ok(written.len() as u64)
}

/// Inserts an import's checked rows for [`crm_db::import_keys::write_rows`].
struct Writer<'a> {
    actor: &'a Actor,
    import: uuid::Uuid,
}

impl crm_db::import_keys::BatchWriter for Writer<'_> {
    type Row = crate::service::CompanyValues;
    type Error = CompanyError;

    async fn insert(
        &self,
        conn: &mut AsyncPgConnection,
        rows: Vec<(u64, crate::service::CompanyValues)>,
    ) -> Result<u64, CompanyError> {
        insert(conn, self.actor, self.import, rows).await
    }
}

/// The row's upsert key, normalised as stored (`None`: the row has none, or no valid one).
fn upsert_key(row: &ImportRow, by: UpsertBy) -> Option<String> {
    let input = &row.input;
    match by {
        UpsertBy::Name => Some(name_key(&input.name)).filter(|k| !k.is_empty()),
        UpsertBy::Email => input
            .email
            .as_deref()
            .and_then(|e| crm_core::normalize::email(e).ok()),
        UpsertBy::Phone => input
            .phone
            .as_deref()
            .and_then(|p| crm_core::normalize::phone(p).ok()),
        UpsertBy::Number => None,
    }
}

/// Updates the companies that rows of an upserting import match; the rows left create.
async fn update_matched(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: uuid::Uuid,
    rows: Vec<ImportRow>,
    by: UpsertBy,
    dry_run: bool,
    outcome: &mut BatchOutcome,
) -> Result<Vec<ImportRow>, CompanyError> {
    let field = match by {
        UpsertBy::Email => "email",
        UpsertBy::Phone => "phone",
        _ => "name",
    };
    let keyed: Vec<_> = rows
        .into_iter()
        .map(|row| (row.line, upsert_key(&row, by), row))
        .collect();
    let keys: Vec<String> = keyed.iter().filter_map(|(_, k, _)| k.clone()).collect();
    let mut existing: HashMap<String, Vec<CompanyId>> = HashMap::new();
    if !keys.is_empty() {
        let live = companies::table
            .filter(companies::deleted_at.is_null())
            .filter(crm_db::visibility::companies(actor));
        let found: Vec<(CompanyId, Option<String>)> = match by {
            UpsertBy::Email => {
                live.filter(lower(companies::email.assume_not_null()).eq_any(&keys))
                    .select((companies::id, companies::email))
                    .load(conn)
                    .await?
            }
            UpsertBy::Phone => {
                live.filter(companies::phone.eq_any(&keys))
                    .select((companies::id, companies::phone))
                    .load(conn)
                    .await?
            }
            _ => {
                live.filter(lower(companies::name).eq_any(&keys))
                    .select((companies::id, lower(companies::name).nullable()))
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
            .push((line, vec![clash.error(field, "companies")]));
    }
    let updates = sorted
        .update
        .into_iter()
        .map(|(line, id, row)| (line, id, patch_of(row.input, by)))
        .collect();
    let (updated, refused) =
        crm_db::import_keys::update_rows(conn, &Updater { actor }, updates, dry_run).await?;
    outcome.updated = updated;
    outcome.failures.extend(refused);
    Ok(sorted.create.into_iter().map(|(_, row)| row).collect())
}

/// A row as the change it makes to a company it matches: every filled cell, nothing else (a
/// name that found the company, ignoring case, stays as it is).
fn patch_of(input: CreateCompany, by: UpsertBy) -> crate::input::UpdateCompany {
    let name = input.name.trim().to_owned();
    crate::input::UpdateCompany {
        name: (!name.is_empty() && by != UpsertBy::Name).then_some(Some(name)),
        website: input.website.map(Some),
        industry: input.industry.map(Some),
        email: input.email.map(Some),
        phone: input.phone.map(Some),
        address: input.address.map(Some),
        employees: input.employees.map(Some),
        notes: input.notes.map(Some),
        tags: (!input.tags.is_empty()).then_some(input.tags),
        custom_fields: input.custom_fields,
        owner_id: input.owner_id.map(Some),
    }
}

/// Updates a matched company for [`crm_db::import_keys::update_rows`].
struct Updater<'a> {
    actor: &'a Actor,
}

impl crm_db::import_keys::RowUpdater for Updater<'_> {
    type Id = CompanyId;
    type Row = crate::input::UpdateCompany;
    type Error = CompanyError;

    async fn update(
        &self,
        conn: &mut AsyncPgConnection,
        id: CompanyId,
        row: crate::input::UpdateCompany,
    ) -> Result<(), CompanyError> {
        crate::service::update_company(conn, self.actor, id, row, None)
            .await
            .map(drop)
    }
}
