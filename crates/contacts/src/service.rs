//! Contact use cases. Each takes the connection first, then the actor, then the input; every
//! write is one transaction that also appends its activity entries (on the contact and, when
//! the company link changes, on the companies concerned).

use chrono::{DateTime, Utc};
use crm_companies::fields;
use crm_core::{
    Actor, Change, CompanyId, ContactId, EntityRef, FieldError, Listing, Permission, Role,
    SortDirection, UserId, change, checks,
};
use crm_custom_fields::{CustomFieldEntity, FieldSet, gather};
use crm_db::schema::{companies, contacts};
use crm_db::{AsyncPgConnection, links};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::error::ContactError;
use crate::input::{ContactSort, CreateContact, ListContacts, UpdateContact};
use crate::model::{Contact, ContactRow, Social};

use crm_db::sql::lower;

/// The expression of the trigram index `contacts_search_trgm`, used verbatim by `q` so the
/// index serves the search.
pub const SEARCH_EXPR: &str = "(contacts.full_name || ' ' || coalesce(contacts.email, '') || ' ' || coalesce(contacts.phone, ''))";

fn visible(actor: &Actor, owner_id: Option<UserId>) -> bool {
    crm_companies::owns_or_reads_all(actor, Permission::ContactsReadAll, owner_id)
}

/// The full set of writable columns, normalised and validated.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = contacts)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct ContactValues {
    pub(crate) full_name: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) position: Option<String>,
    pub(crate) company_id: Option<CompanyId>,
    pub(crate) tags: Vec<String>,
    pub(crate) notes: Option<String>,
    pub(crate) social: Value,
    pub(crate) custom_fields: Value,
    pub(crate) owner_id: Option<UserId>,
}

/// Values before validation: `social` still typed.
pub(crate) struct Draft {
    pub(crate) full_name: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) position: Option<String>,
    pub(crate) company_id: Option<CompanyId>,
    pub(crate) tags: Vec<String>,
    pub(crate) notes: Option<String>,
    pub(crate) social: Social,
    pub(crate) custom_fields: Value,
    pub(crate) owner_id: Option<UserId>,
}

impl Draft {
    /// A new contact's draft and its custom-field input (validated against the definitions
    /// inside the writing transaction). The owner defaults to the acting user.
    pub(crate) fn from_input(input: CreateContact, actor: &Actor) -> (Self, Option<Value>) {
        let draft = Self {
            full_name: input.full_name,
            email: input.email,
            phone: input.phone,
            position: input.position,
            company_id: input.company_id,
            tags: input.tags,
            notes: input.notes,
            social: input.social.unwrap_or_default(),
            custom_fields: Value::Object(Default::default()),
            owner_id: input.owner_id.or(actor.user_id),
        };
        (draft, input.custom_fields)
    }

    fn from_contact(c: &Contact) -> Self {
        Self {
            full_name: c.full_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            position: c.position.clone(),
            company_id: c.company_id,
            tags: c.tags.clone(),
            notes: c.notes.clone(),
            social: c.social.clone(),
            custom_fields: c.custom_fields.clone(),
            owner_id: c.owner_id,
        }
    }

    /// The stored form of every field, once the input's garde rules and the custom fields
    /// found no problem (`errors`, all reported at once).
    pub(crate) fn normalized(self, errors: Vec<FieldError>) -> Result<ContactValues, ContactError> {
        if !errors.is_empty() {
            return Err(ContactError::Invalid(errors));
        }
        Ok(ContactValues {
            full_name: fields::required_text(&self.full_name),
            email: fields::optional_email(self.email.as_deref()),
            phone: fields::optional_phone(self.phone.as_deref()),
            position: fields::optional_text(self.position.as_deref()),
            company_id: self.company_id,
            tags: fields::tags(&self.tags),
            notes: fields::optional_text(self.notes.as_deref()),
            social: serde_json::to_value(self.social.normalized()).unwrap_or_default(),
            custom_fields: self.custom_fields,
            owner_id: self.owner_id,
        })
    }
}

/// An owner or company deleted between the check and the write surfaces as a foreign-key
/// violation: the same answer as if the check had seen it gone.
fn map_write(
    e: diesel::result::Error,
    (owner, company): (Option<UserId>, Option<CompanyId>),
) -> ContactError {
    use crm_db::constraint::is_foreign_key_violation;
    match (owner, company) {
        (Some(id), _) if is_foreign_key_violation(&e, "contacts_owner_id_fkey") => {
            ContactError::UnknownUser(id)
        }
        (_, Some(id)) if is_foreign_key_violation(&e, "contacts_company_id_fkey") => {
            ContactError::UnknownCompany(id)
        }
        _ => e.into(),
    }
}

async fn ensure_references(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    values: &ContactValues,
    owner_changed: bool,
    company_changed: bool,
) -> Result<(), ContactError> {
    if let (true, Some(owner)) = (owner_changed, values.owner_id) {
        links::require_active_user(conn, owner, ContactError::UnknownUser).await?;
    }
    if let (true, Some(company)) = (company_changed, values.company_id) {
        links::require(conn, actor, company, ContactError::UnknownCompany).await?;
    }
    Ok(())
}

/// Writes `company.contact.unlinked` / `company.contact.linked` on the companies concerned.
async fn record_link_change(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    contact_id: ContactId,
    from: Option<CompanyId>,
    to: Option<CompanyId>,
) -> Result<(), ContactError> {
    if from == to {
        return Ok(());
    }
    if let Some(old) = from {
        let changes = [Change {
            field: "contactId".into(),
            from: json!(contact_id),
            to: Value::Null,
        }];
        let company = EntityRef::of(old);
        crm_activity::record(conn, actor, company, "company.contact.unlinked", &changes).await?;
    }
    if let Some(new) = to {
        let changes = [Change {
            field: "contactId".into(),
            from: Value::Null,
            to: json!(contact_id),
        }];
        let company = EntityRef::of(new);
        crm_activity::record(conn, actor, company, "company.contact.linked", &changes).await?;
    }
    Ok(())
}

/// Creates a contact (`contacts.write`). The owner defaults to the acting user.
pub async fn create_contact(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreateContact,
) -> Result<Contact, ContactError> {
    actor.require(Permission::ContactsWrite)?;
    let invalid = checks::errors(&input);
    let (draft, custom_fields) = Draft::from_input(input, actor);
    conn.transaction(async |conn| {
        let fields = FieldSet::for_write(conn, CustomFieldEntity::Contact).await?;
        let mut errors = invalid;
        let custom = gather(fields.validate_create(custom_fields.as_ref()), &mut errors)?;
        let mut values = draft.normalized(errors)?;
        values.custom_fields = custom;
        ensure_references(conn, actor, &values, true, true).await?;
        crm_db::tags::ensure_registered(conn, &values.tags).await?;
        let now = Utc::now();
        let company_id = values.company_id;
        let refs = (values.owner_id, values.company_id);
        let contact: Contact = diesel::insert_into(contacts::table)
            .values((
                contacts::id.eq(ContactId::new()),
                values,
                contacts::created_by_id.eq(actor.user_id),
                contacts::created_at.eq(now),
                contacts::updated_at.eq(now),
            ))
            .returning(ContactRow::as_returning())
            .get_result::<ContactRow>(conn)
            .await
            .map_err(|e| map_write(e, refs))?
            .into();
        let changes = change::created(&contact.to_json());
        crm_activity::record(
            conn,
            actor,
            EntityRef::of(contact.id),
            "contact.created",
            &changes,
        )
        .await?;
        crate::events::created(conn, actor, &contact).await?;
        record_link_change(conn, actor, contact.id, None, company_id).await?;
        Ok(contact)
    })
    .await
}

/// Loads a contact for a write, locked, if it exists, is visible and is (not) in the trash.
async fn lock_visible(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ContactId,
    trashed: Option<bool>,
) -> Result<Contact, ContactError> {
    let row: ContactRow = contacts::table
        .find(id)
        .select(ContactRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(ContactError::NotFound(id))?;
    let state_fits = trashed.is_none_or(|t| t == row.deleted_at.is_some());
    if !state_fits || !visible(actor, row.owner_id) {
        return Err(ContactError::NotFound(id));
    }
    Ok(row.into())
}

/// Reads a contact (`contacts.read`); a trashed or invisible one is `NotFound`.
pub async fn get_contact(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ContactId,
) -> Result<Contact, ContactError> {
    actor.require(Permission::ContactsRead)?;
    let row: ContactRow = contacts::table
        .find(id)
        .filter(contacts::deleted_at.is_null())
        .select(ContactRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(ContactError::NotFound(id))?;
    if !visible(actor, row.owner_id) {
        return Err(ContactError::NotFound(id));
    }
    Ok(row.into())
}

pub(crate) fn filtered(
    actor: &Actor,
    input: &ListContacts,
) -> contacts::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = contacts::table.into_boxed();
    query = if input.deleted {
        query.filter(contacts::deleted_at.is_not_null())
    } else {
        query.filter(contacts::deleted_at.is_null())
    };
    query = query.filter(crm_db::visibility::contacts(actor));
    if let Some(pattern) = fields::like_pattern(input.q.as_deref()) {
        query = query.filter(
            sql::<Bool>(SEARCH_EXPR)
                .sql(" ILIKE ")
                .bind::<Text, _>(pattern),
        );
    }
    if let Some(company) = input.company_id {
        query = query.filter(contacts::company_id.eq(company));
    }
    if let Some(owner) = input.owner_id {
        query = query.filter(contacts::owner_id.eq(owner));
    }
    if let Some(tag) = input.tag.as_deref().map(str::trim) {
        query = query.filter(crm_db::tags::carries_tag("contacts", tag));
    }
    if let Some(email) = input.email.as_deref() {
        query = query.filter(contacts::email.eq(email.trim().to_lowercase()));
    }
    if let Some(since) = input.updated_since {
        query = query.filter(contacts::updated_at.ge(since));
    }
    if let Some(industry) = input.company_industry.as_deref() {
        let matching = companies::table
            .filter(companies::deleted_at.is_null())
            .filter(lower(companies::industry.assume_not_null()).eq(industry.trim().to_lowercase()))
            .select(companies::id.nullable());
        query = query.filter(contacts::company_id.eq_any(matching));
    }
    if let Some(pattern) = fields::like_pattern(input.company_name.as_deref()) {
        let matching = companies::table
            .filter(companies::deleted_at.is_null())
            .filter(companies::name.ilike(pattern))
            .select(companies::id.nullable());
        query = query.filter(contacts::company_id.eq_any(matching));
    }
    for condition in input.custom_fields.conditions("contacts") {
        query = query.filter(condition);
    }
    query
}

/// Lists the contacts the actor may see (`contacts.read`), offset- or keyset-paged.
pub async fn list_contacts(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &ListContacts,
) -> Result<Listing<Contact>, ContactError> {
    actor.require(Permission::ContactsRead)?;
    let listing: Listing<ContactRow> = crm_db::load_listing!(
        conn,
        contacts,
        ContactRow,
        &input.page,
        input.cursor,
        filtered(actor, input),
        |query| sorted(query, input),
    );
    Ok(listing.map(Contact::from))
}

/// `query` in the order of `input.sort` (ties: see [`crm_db::load_listing`]).
pub(crate) fn sorted(
    mut query: contacts::BoxedQuery<'static, diesel::pg::Pg>,
    input: &ListContacts,
) -> contacts::BoxedQuery<'static, diesel::pg::Pg> {
    for &(field, dir) in &input.sort.keys {
        let desc = dir == SortDirection::Desc;
        query = match (field, desc) {
            (ContactSort::CreatedAt, false) => query.then_order_by(contacts::created_at.asc()),
            (ContactSort::CreatedAt, true) => query.then_order_by(contacts::created_at.desc()),
            (ContactSort::UpdatedAt, false) => query.then_order_by(contacts::updated_at.asc()),
            (ContactSort::UpdatedAt, true) => query.then_order_by(contacts::updated_at.desc()),
            (ContactSort::FullName, false) => query.then_order_by(lower(contacts::full_name).asc()),
            (ContactSort::FullName, true) => query.then_order_by(lower(contacts::full_name).desc()),
            (ContactSort::Email, false) => query.then_order_by(contacts::email.asc().nulls_last()),
            (ContactSort::Email, true) => query.then_order_by(contacts::email.desc().nulls_last()),
            (ContactSort::CustomField(i), _) => {
                query.then_order_by(input.custom_fields.order_by("contacts", i, dir))
            }
        };
    }
    query
}

/// The visible contacts of a company the actor may see (`contacts.read` and
/// `companies.read`); an invisible company is `NotFound`.
pub async fn list_company_contacts(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    company_id: CompanyId,
    input: &ListContacts,
) -> Result<Listing<Contact>, ContactError> {
    actor.require(Permission::ContactsRead)?;
    crm_companies::get_company(conn, actor, company_id).await?;
    let input = ListContacts {
        company_id: Some(company_id),
        ..input.clone()
    };
    list_contacts(conn, actor, &input).await
}

/// Changes a contact (`contacts.write`, and the contact must be visible). A change of
/// `companyId` is also recorded on the companies unlinked and linked.
pub async fn update_contact(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ContactId,
    input: UpdateContact,
    expected_version: Option<i32>,
) -> Result<Contact, ContactError> {
    actor.require(Permission::ContactsWrite)?;
    let invalid = checks::errors(&input);
    conn.transaction(async |conn| {
        // Before the contact row is locked (see crm_custom_fields::FieldSet::for_write).
        let fields = match &input.custom_fields {
            Some(_) => Some(FieldSet::for_write(conn, CustomFieldEntity::Contact).await?),
            None => None,
        };
        let before = lock_visible(conn, actor, id, Some(false)).await?;
        crm_core::check_version(expected_version, before.version)?;
        let mut draft = Draft::from_contact(&before);
        if let Some(name) = input.full_name {
            // `null` cannot clear a required field: it fails validation as an empty one.
            draft.full_name = name.unwrap_or_default();
        }
        macro_rules! patch {
            ($($field:ident),*) => { $(if let Some(v) = input.$field { draft.$field = v; })* };
        }
        patch!(email, phone, position, company_id, notes, owner_id, tags);
        if let Some(social) = input.social {
            draft.social = social.unwrap_or_default();
        }
        let mut errors = invalid;
        if let (Some(fields), Some(patch)) = (&fields, &input.custom_fields) {
            draft.custom_fields = gather(
                fields.validate_update(&before.custom_fields, patch),
                &mut errors,
            )?;
        }
        let values = draft.normalized(errors)?;
        let owner_changed = values.owner_id != before.owner_id;
        let company_changed = values.company_id != before.company_id;
        ensure_references(conn, actor, &values, owner_changed, company_changed).await?;
        crm_db::tags::ensure_registered(conn, &values.tags).await?;
        let new_company = values.company_id;
        let refs = (values.owner_id, values.company_id);
        let after: Contact = diesel::update(contacts::table.find(id))
            .set((
                values,
                contacts::updated_at.eq(Utc::now()),
                contacts::version.eq(contacts::version + 1),
            ))
            .returning(ContactRow::as_returning())
            .get_result::<ContactRow>(conn)
            .await
            .map_err(|e| map_write(e, refs))?
            .into();
        let changes = change::diff(&before.to_json(), &after.to_json());
        crm_activity::record(conn, actor, EntityRef::of(id), "contact.updated", &changes).await?;
        crate::events::updated(conn, actor, &before, &after).await?;
        record_link_change(conn, actor, id, before.company_id, new_company).await?;
        Ok(after)
    })
    .await
}

/// Moves a contact to the trash (`contacts.delete`), or with `permanent` deletes it for good
/// (admins only).
pub async fn delete_contact(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ContactId,
    permanent: bool,
    expected_version: Option<i32>,
) -> Result<(), ContactError> {
    actor.require(Permission::ContactsDelete)?;
    if permanent && actor.role != Role::Admin {
        return Err(ContactError::AdminOnly);
    }
    conn.transaction(async |conn| {
        let before =
            lock_visible(conn, actor, id, if permanent { None } else { Some(false) }).await?;
        crm_core::check_version(expected_version, before.version)?;
        if permanent {
            diesel::delete(contacts::table.find(id))
                .execute(conn)
                .await?;
            crm_activity::record_purged(conn, actor, EntityRef::of(id)).await?;
            crate::events::deleted(conn, actor, &before).await?;
            return Ok(());
        }
        let now = Utc::now();
        diesel::update(contacts::table.find(id))
            .set((
                contacts::deleted_at.eq(now),
                contacts::updated_at.eq(now),
                contacts::version.eq(contacts::version + 1),
            ))
            .execute(conn)
            .await?;
        crm_activity::record_trashed(conn, actor, EntityRef::of(id), now).await?;
        crate::events::trashed(conn, actor, id).await?;
        Ok(())
    })
    .await
}

/// Takes a contact out of the trash (`contacts.delete`); `DuplicateEmail` when another
/// contact took its e-mail meanwhile.
pub async fn restore_contact(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ContactId,
) -> Result<Contact, ContactError> {
    actor.require(Permission::ContactsDelete)?;
    conn.transaction(async |conn| {
        let before = lock_visible(conn, actor, id, Some(true)).await?;
        let after: Contact = diesel::update(contacts::table.find(id))
            .set((
                contacts::deleted_at.eq(None::<DateTime<Utc>>),
                contacts::updated_at.eq(Utc::now()),
                contacts::version.eq(contacts::version + 1),
            ))
            .returning(ContactRow::as_returning())
            .get_result::<ContactRow>(conn)
            .await?
            .into();
        crm_activity::record_restored(conn, actor, EntityRef::of(id), before.deleted_at, &[])
            .await?;
        crate::events::updated(conn, actor, &before, &after).await?;
        Ok(after)
    })
    .await
}

/// Deletes for good every contact trashed before `older_than`; returns how many.
pub async fn purge_trash(
    conn: &mut AsyncPgConnection,
    older_than: DateTime<Utc>,
) -> Result<usize, ContactError> {
    Ok(
        diesel::delete(contacts::table.filter(contacts::deleted_at.lt(older_than)))
            .execute(conn)
            .await?,
    )
}
