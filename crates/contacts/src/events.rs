//! The realtime events of contacts (`contact.created`, `contact.updated`, `contact.deleted`),
//! appended to `contact:{id}` in the transaction of the change, next to the activity entries.
//! Receivers: the contact's visibility rule, with its owner before and after the change.

use crm_core::Actor;
use crm_db::AsyncPgConnection;
use crm_db::schema::contacts;
use crm_events::{Audience, EventName, NewEvent, Rewritten, Room};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::ContactError;
use crate::model::{Contact, ContactRow};

/// `contact.created`.
pub(crate) async fn created(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    contact: &Contact,
) -> Result<(), ContactError> {
    emit(conn, actor, EventName::ContactCreated, None, contact).await
}

/// `contact.updated` (also after a restore).
pub(crate) async fn updated(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    before: &Contact,
    after: &Contact,
) -> Result<(), ContactError> {
    emit(conn, actor, EventName::ContactUpdated, Some(before), after).await
}

/// `contact.deleted` for a contact deleted for good, as last seen.
pub(crate) async fn deleted(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    contact: &Contact,
) -> Result<(), ContactError> {
    emit(conn, actor, EventName::ContactDeleted, None, contact).await
}

/// Appends `name` with the contact `after` (as the API returns it).
async fn emit(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    name: EventName,
    before: Option<&Contact>,
    after: &Contact,
) -> Result<(), ContactError> {
    crm_events::append(conn, actor, vec![event(name, before, after)]).await?;
    Ok(())
}

/// `name` with the contact `after`, to its room, for its readers before and after.
fn event(name: EventName, before: Option<&Contact>, after: &Contact) -> NewEvent {
    NewEvent::new(
        name,
        vec![Room::Contact(after.id)],
        Audience::contact(after.owner_id).with_users([before.and_then(|b| b.owner_id)]),
        serde_json::to_value(after).unwrap_or_default(),
    )
}

/// Appends `contact.updated` for each contact that a set-based rewrite changed (a tag
/// renamed, merged or deleted; custom-field values converted, removed, hidden or shown), with
/// the contact as it now is — what [`update_contact`](crate::update_contact) emits for the
/// same change (such rewrites never change the owner). Contacts are read [`REWRITE_BATCH`](crm_events::REWRITE_BATCH) at
/// a time (one query per batch, one statement appends the batch's events); contacts in the
/// trash get no events.
pub async fn rewritten(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    records: &[Rewritten],
) -> QueryResult<()> {
    crm_events::rewrite::append_in_batches(
        conn,
        actor,
        records,
        async |conn, ids| {
            let rows: Vec<ContactRow> = contacts::table
                .filter(contacts::id.eq_any(ids))
                .filter(contacts::deleted_at.is_null())
                .select(ContactRow::as_select())
                .load(conn)
                .await?;
            Ok(rows.into_iter().map(|r| (r.id, r.into())).collect())
        },
        |c: &Contact, _| vec![event(EventName::ContactUpdated, Some(c), c)],
    )
    .await
}

/// `contact.deleted` with the contact as it is now (in the trash).
pub(crate) async fn trashed(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<(), ContactError> {
    let contact: Contact = contacts::table
        .find(id)
        .select(ContactRow::as_select())
        .first::<ContactRow>(conn)
        .await?
        .into();
    emit(conn, actor, EventName::ContactDeleted, None, &contact).await
}
