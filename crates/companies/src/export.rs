//! Every company a list shows, in the list's order: what an export streams.

use crm_core::{Actor, Permission};
use crm_db::AsyncPgConnection;
use crm_db::schema::companies;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::error::CompanyError;
use crate::input::ListCompanies;
use crate::model::Company;

/// The companies `input` lists (`companies.read`, with its filters, visibility and sort; ties
/// by id), all of them, as a stream read as the caller consumes it. Paging parameters are
/// ignored. The stream holds `conn` until it ends: give it a connection of its own.
pub async fn export_companies<'c>(
    conn: &'c mut AsyncPgConnection,
    actor: &Actor,
    input: &ListCompanies,
) -> Result<BoxStream<'c, Result<Company, CompanyError>>, CompanyError> {
    actor.require(Permission::CompaniesRead)?;
    let query = crate::service::sorted(crate::service::filtered(actor, input), input)
        .then_order_by(companies::id.asc())
        .select(Company::as_select());
    let rows = query.load_stream::<Company>(conn).await?;
    // Fused: the row stream of diesel-async must not be polled again once it has ended.
    Ok(rows.map_err(CompanyError::from).fuse().boxed())
}
