//! Company use cases. Each takes the connection first, then the actor, then the input; every
//! write is one transaction that also appends its activity entry.

use chrono::{DateTime, Utc};
use crm_core::{
    Actor, CompanyId, EntityRef, FieldError, Listing, Permission, Role, SortDirection, UserId,
    change, checks,
};
use crm_custom_fields::{CustomFieldEntity, FieldSet, gather};
use crm_db::AsyncPgConnection;
use crm_db::schema::companies;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::error::CompanyError;
use crate::fields;
use crate::input::{CompanySort, CreateCompany, ListCompanies, UpdateCompany};
use crate::model::Company;

use crm_db::sql::lower;

/// Whether `actor` sees a record owned by `owner_id`, given the "read all" permission.
pub fn owns_or_reads_all(actor: &Actor, read_all: Permission, owner_id: Option<UserId>) -> bool {
    crm_db::visibility::Reach::of(actor, read_all).covers(&[owner_id])
}

/// The full set of writable columns, normalised and validated.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = companies)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct CompanyValues {
    pub(crate) name: String,
    pub(crate) website: Option<String>,
    pub(crate) industry: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) employees: Option<i32>,
    pub(crate) notes: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) custom_fields: serde_json::Value,
    pub(crate) owner_id: Option<UserId>,
}

impl CompanyValues {
    /// A new company's values before normalisation, and its custom-field input (validated
    /// against the definitions inside the writing transaction). The owner defaults to the
    /// acting user.
    pub(crate) fn from_input(
        input: CreateCompany,
        actor: &Actor,
    ) -> (Self, Option<serde_json::Value>) {
        let draft = Self {
            name: input.name,
            website: input.website,
            industry: input.industry,
            email: input.email,
            phone: input.phone,
            address: input.address,
            employees: input.employees,
            notes: input.notes,
            tags: input.tags,
            custom_fields: serde_json::Value::Object(Default::default()),
            owner_id: input.owner_id.or(actor.user_id),
        };
        (draft, input.custom_fields)
    }

    fn from_company(c: &Company) -> Self {
        Self {
            name: c.name.clone(),
            website: c.website.clone(),
            industry: c.industry.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            address: c.address.clone(),
            employees: c.employees,
            notes: c.notes.clone(),
            tags: c.tags.clone(),
            custom_fields: c.custom_fields.clone(),
            owner_id: c.owner_id,
        }
    }

    /// The stored form of every field, once the input's garde rules and the custom fields
    /// found no problem (`errors`, all reported at once).
    pub(crate) fn normalized(self, errors: Vec<FieldError>) -> Result<Self, CompanyError> {
        if !errors.is_empty() {
            return Err(CompanyError::Invalid(errors));
        }
        Ok(Self {
            name: fields::required_text(&self.name),
            website: fields::optional_url(self.website.as_deref()),
            industry: fields::optional_text(self.industry.as_deref()),
            email: fields::optional_email(self.email.as_deref()),
            phone: fields::optional_phone(self.phone.as_deref()),
            address: fields::optional_text(self.address.as_deref()),
            employees: self.employees,
            notes: fields::optional_text(self.notes.as_deref()),
            tags: fields::tags(&self.tags),
            custom_fields: self.custom_fields,
            owner_id: self.owner_id,
        })
    }
}

/// An owner deleted between the check and the write surfaces as a foreign-key violation.
fn map_write(e: diesel::result::Error, owner_id: Option<UserId>) -> CompanyError {
    match owner_id {
        Some(id) if crm_db::constraint::is_foreign_key_violation(&e, "companies_owner_id_fkey") => {
            CompanyError::UnknownUser(id)
        }
        _ => e.into(),
    }
}

async fn ensure_owner(
    conn: &mut AsyncPgConnection,
    owner_id: Option<UserId>,
) -> Result<(), CompanyError> {
    match owner_id {
        Some(id) if !crm_db::links::active_user(conn, id).await? => {
            Err(CompanyError::UnknownUser(id))
        }
        _ => Ok(()),
    }
}

/// Creates a company (`companies.write`). The owner defaults to the acting user.
pub async fn create_company(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreateCompany,
) -> Result<Company, CompanyError> {
    actor.require(Permission::CompaniesWrite)?;
    let invalid = checks::errors(&input);
    let (draft, custom_fields) = CompanyValues::from_input(input, actor);
    conn.transaction(async |conn| {
        let fields = FieldSet::for_write(conn, CustomFieldEntity::Company).await?;
        let mut errors = invalid;
        let custom = gather(fields.validate_create(custom_fields.as_ref()), &mut errors)?;
        let mut values = draft.normalized(errors)?;
        values.custom_fields = custom;
        ensure_owner(conn, values.owner_id).await?;
        crm_db::tags::ensure_registered(conn, &values.tags).await?;
        let now = Utc::now();
        let owner_id = values.owner_id;
        let company: Company = diesel::insert_into(companies::table)
            .values((
                companies::id.eq(CompanyId::new()),
                values,
                companies::created_by_id.eq(actor.user_id),
                companies::created_at.eq(now),
                companies::updated_at.eq(now),
            ))
            .returning(Company::as_returning())
            .get_result(conn)
            .await
            .map_err(|e| map_write(e, owner_id))?;
        let changes = change::created(&company.to_json());
        crm_activity::record(
            conn,
            actor,
            EntityRef::of(company.id),
            "company.created",
            &changes,
        )
        .await?;
        Ok(company)
    })
    .await
}

/// Loads a company for a write, locked, if it exists, is visible and is (not) in the trash.
async fn lock_visible(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CompanyId,
    trashed: Option<bool>,
) -> Result<Company, CompanyError> {
    let company: Company = companies::table
        .find(id)
        .select(Company::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(CompanyError::NotFound(id))?;
    let state_fits = trashed.is_none_or(|t| t == company.deleted_at.is_some());
    if !state_fits || !owns_or_reads_all(actor, Permission::CompaniesReadAll, company.owner_id) {
        return Err(CompanyError::NotFound(id));
    }
    Ok(company)
}

/// Reads a company (`companies.read`); a trashed or invisible one is `NotFound`.
pub async fn get_company(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CompanyId,
) -> Result<Company, CompanyError> {
    actor.require(Permission::CompaniesRead)?;
    let company: Company = companies::table
        .find(id)
        .filter(companies::deleted_at.is_null())
        .select(Company::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(CompanyError::NotFound(id))?;
    if !owns_or_reads_all(actor, Permission::CompaniesReadAll, company.owner_id) {
        return Err(CompanyError::NotFound(id));
    }
    Ok(company)
}

pub(crate) fn filtered(
    actor: &Actor,
    input: &ListCompanies,
) -> companies::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = companies::table.into_boxed();
    query = if input.deleted {
        query.filter(companies::deleted_at.is_not_null())
    } else {
        query.filter(companies::deleted_at.is_null())
    };
    query = query.filter(crm_db::visibility::companies(actor));
    if let Some(pattern) = fields::like_pattern(input.q.as_deref()) {
        // `name ILIKE` is what the trigram index `companies_name_trgm` serves.
        query = query.filter(companies::name.ilike(pattern));
    }
    if let Some(industry) = input.industry.as_deref().map(str::trim) {
        query =
            query.filter(lower(companies::industry.assume_not_null()).eq(industry.to_lowercase()));
    }
    if let Some(owner) = input.owner_id {
        query = query.filter(companies::owner_id.eq(owner));
    }
    if let Some(tag) = input.tag.as_deref().map(str::trim) {
        query = query.filter(crm_db::tags::carries_tag("companies", tag));
    }
    if let Some(since) = input.updated_since {
        query = query.filter(companies::updated_at.ge(since));
    }
    for condition in input.custom_fields.conditions("companies") {
        query = query.filter(condition);
    }
    query
}

/// Lists the companies the actor may see (`companies.read`), offset- or keyset-paged.
pub async fn list_companies(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &ListCompanies,
) -> Result<Listing<Company>, CompanyError> {
    actor.require(Permission::CompaniesRead)?;
    let listing: Listing<Company> = crm_db::load_listing!(
        conn,
        companies,
        Company,
        &input.page,
        input.cursor,
        filtered(actor, input),
        |query| sorted(query, input),
    );
    Ok(listing)
}

/// `query` in the order of `input.sort` (ties: see [`crm_db::load_listing`]).
pub(crate) fn sorted(
    mut query: companies::BoxedQuery<'static, diesel::pg::Pg>,
    input: &ListCompanies,
) -> companies::BoxedQuery<'static, diesel::pg::Pg> {
    for &(field, dir) in &input.sort.keys {
        let desc = dir == SortDirection::Desc;
        query = match (field, desc) {
            (CompanySort::CreatedAt, false) => query.then_order_by(companies::created_at.asc()),
            (CompanySort::CreatedAt, true) => query.then_order_by(companies::created_at.desc()),
            (CompanySort::UpdatedAt, false) => query.then_order_by(companies::updated_at.asc()),
            (CompanySort::UpdatedAt, true) => query.then_order_by(companies::updated_at.desc()),
            (CompanySort::Name, false) => query.then_order_by(lower(companies::name).asc()),
            (CompanySort::Name, true) => query.then_order_by(lower(companies::name).desc()),
            (CompanySort::Employees, false) => {
                query.then_order_by(companies::employees.asc().nulls_last())
            }
            (CompanySort::Employees, true) => {
                query.then_order_by(companies::employees.desc().nulls_last())
            }
            (CompanySort::CustomField(i), _) => {
                query.then_order_by(input.custom_fields.order_by("companies", i, dir))
            }
        };
    }
    query
}

/// Changes a company (`companies.write`, and the company must be visible).
pub async fn update_company(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CompanyId,
    input: UpdateCompany,
    expected_version: Option<i32>,
) -> Result<Company, CompanyError> {
    actor.require(Permission::CompaniesWrite)?;
    let invalid = checks::errors(&input);
    conn.transaction(async |conn| {
        // Before the company row is locked (see crm_custom_fields::FieldSet::for_write).
        let fields = match &input.custom_fields {
            Some(_) => Some(FieldSet::for_write(conn, CustomFieldEntity::Company).await?),
            None => None,
        };
        let before = lock_visible(conn, actor, id, Some(false)).await?;
        crm_core::check_version(expected_version, before.version)?;
        let mut values = CompanyValues::from_company(&before);
        if let Some(name) = input.name {
            // `null` cannot clear a required field: the input's rules refused it.
            values.name = name.unwrap_or_default();
        }
        macro_rules! patch {
            ($($field:ident),*) => { $(if let Some(v) = input.$field { values.$field = v; })* };
        }
        patch!(
            website, industry, email, phone, address, employees, notes, owner_id
        );
        if let Some(tags) = input.tags {
            values.tags = tags;
        }
        let mut errors = invalid;
        if let (Some(fields), Some(patch)) = (&fields, &input.custom_fields) {
            values.custom_fields = gather(
                fields.validate_update(&before.custom_fields, patch),
                &mut errors,
            )?;
        }
        let values = values.normalized(errors)?;
        if values.owner_id != before.owner_id {
            ensure_owner(conn, values.owner_id).await?;
        }
        crm_db::tags::ensure_registered(conn, &values.tags).await?;
        let owner_id = values.owner_id;
        let after: Company = diesel::update(companies::table.find(id))
            .set((
                values,
                companies::updated_at.eq(Utc::now()),
                companies::version.eq(companies::version + 1),
            ))
            .returning(Company::as_returning())
            .get_result(conn)
            .await
            .map_err(|e| map_write(e, owner_id))?;
        let changes = change::diff(&before.to_json(), &after.to_json());
        crm_activity::record(conn, actor, EntityRef::of(id), "company.updated", &changes).await?;
        Ok(after)
    })
    .await
}

/// Moves a company to the trash (`companies.delete`), or with `permanent` deletes it for good
/// (admins only; its contacts stay and lose the link).
pub async fn delete_company(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CompanyId,
    permanent: bool,
    expected_version: Option<i32>,
) -> Result<(), CompanyError> {
    actor.require(Permission::CompaniesDelete)?;
    if permanent && actor.role != Role::Admin {
        return Err(CompanyError::AdminOnly);
    }
    conn.transaction(async |conn| {
        let before =
            lock_visible(conn, actor, id, if permanent { None } else { Some(false) }).await?;
        crm_core::check_version(expected_version, before.version)?;
        if permanent {
            diesel::delete(companies::table.find(id))
                .execute(conn)
                .await?;
            crm_activity::record_purged(conn, actor, EntityRef::of(id)).await?;
            return Ok(());
        }
        let now = Utc::now();
        diesel::update(companies::table.find(id))
            .set((
                companies::deleted_at.eq(now),
                companies::updated_at.eq(now),
                companies::version.eq(companies::version + 1),
            ))
            .execute(conn)
            .await?;
        crm_activity::record_trashed(conn, actor, EntityRef::of(id), now).await?;
        Ok(())
    })
    .await
}

/// Takes a company out of the trash (`companies.delete`); `DuplicateName` when another
/// company took its name meanwhile.
pub async fn restore_company(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CompanyId,
) -> Result<Company, CompanyError> {
    actor.require(Permission::CompaniesDelete)?;
    conn.transaction(async |conn| {
        let before = lock_visible(conn, actor, id, Some(true)).await?;
        let after: Company = diesel::update(companies::table.find(id))
            .set((
                companies::deleted_at.eq(None::<DateTime<Utc>>),
                companies::updated_at.eq(Utc::now()),
                companies::version.eq(companies::version + 1),
            ))
            .returning(Company::as_returning())
            .get_result(conn)
            .await?;
        crm_activity::record_restored(conn, actor, EntityRef::of(id), before.deleted_at, &[])
            .await?;
        Ok(after)
    })
    .await
}

/// Deletes for good every company trashed before `older_than`; returns how many. Their
/// contacts stay and lose the link.
pub async fn purge_trash(
    conn: &mut AsyncPgConnection,
    older_than: DateTime<Utc>,
) -> Result<usize, CompanyError> {
    Ok(
        diesel::delete(companies::table.filter(companies::deleted_at.lt(older_than)))
            .execute(conn)
            .await?,
    )
}
