//! The realtime events of contacts (`contact.created`, `contact.updated`, `contact.deleted`),
//! appended to `contact:{id}` in the transaction of the change, next to the activity entries.
//! Receivers: the contact's visibility rule, with its owner before and after the change.

use crm_core::Actor;
use crm_core::ContactId;
use crm_db::AsyncPgConnection;
use crm_db::schema::contacts;
use crm_events::{Audience, EventName, NewEvent, Rewritten, Room};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

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

/// The events of a contact that a set-based rewrite changed (a tag renamed, merged or
/// deleted; custom-field values converted, removed, hidden or shown), with the contact as it
/// now is: `contact.updated`, what [`update_contact`](crate::update_contact) emits for the same
/// change (such rewrites never change the owner). `crm-record-events` loads the contacts and
/// appends these.
pub fn rewrite_events(contact: &Contact, _: &Rewritten) -> Vec<NewEvent> {
    vec![event(EventName::ContactUpdated, Some(contact), contact)]
}

/// `contact.deleted` with the contact as it is now (in the trash).
pub(crate) async fn trashed(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ContactId,
) -> Result<(), ContactError> {
    let contact: Contact = contacts::table
        .find(id)
        .select(ContactRow::as_select())
        .first::<ContactRow>(conn)
        .await?
        .into();
    emit(conn, actor, EventName::ContactDeleted, None, &contact).await
}
