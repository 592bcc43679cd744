//! Every contact a list shows, in the list's order: what an export streams.

use crm_core::{Actor, Permission};
use crm_db::AsyncPgConnection;
use crm_db::schema::contacts;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::error::ContactError;
use crate::input::ListContacts;
use crate::model::{Contact, ContactRow};

/// The contacts `input` lists (`contacts.read`, with its filters, visibility and sort; ties by
/// id), all of them, as a stream of rows read as the caller consumes them. Paging parameters
/// are ignored. The stream holds `conn` until it ends: give it a connection of its own.
pub async fn export_contacts<'c>(
    conn: &'c mut AsyncPgConnection,
    actor: &Actor,
    input: &ListContacts,
) -> Result<BoxStream<'c, Result<Contact, ContactError>>, ContactError> {
    actor.require(Permission::ContactsRead)?;
    let query = crate::service::sorted(crate::service::filtered(actor, input), input)
        .then_order_by(contacts::id.asc())
        .select(ContactRow::as_select());
    let rows = query.load_stream::<ContactRow>(conn).await?;
    // Fused: the row stream of diesel-async must not be polled again once it has ended.
    Ok(rows
        .map_ok(Contact::from)
        .map_err(ContactError::from)
        .fuse()
        .boxed())
}
