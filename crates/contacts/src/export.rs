//! Every contact a list shows, in the list's order: what an export streams.

use crm_core::{Actor, CompanyId, Permission, UserId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{companies, contacts, users};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use std::collections::HashMap;

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

/// The names of these companies and the e-mails of these owners, for an export's columns.
pub async fn names(
    conn: &mut AsyncPgConnection,
    companies_of: &[CompanyId],
    owners: &[UserId],
) -> Result<(HashMap<CompanyId, String>, HashMap<UserId, String>), ContactError> {
    let company_names: Vec<(CompanyId, String)> = companies::table
        .filter(companies::id.eq_any(companies_of))
        .select((companies::id, companies::name))
        .load(conn)
        .await?;
    let owner_emails: Vec<(UserId, String)> = users::table
        .filter(users::id.eq_any(owners))
        .select((users::id, users::email))
        .load(conn)
        .await?;
    Ok((
        company_names.into_iter().collect(),
        owner_emails.into_iter().collect(),
    ))
}
