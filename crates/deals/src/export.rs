//! Every deal a list shows, in the list's order: what an export streams.

use crm_core::{Actor, Permission};
use crm_db::AsyncPgConnection;
use crm_db::schema::deals;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::error::DealError;
use crate::input::ListDeals;
use crate::model::{Deal, DealRow};

/// The deals `input` lists (`deals.read`, with its filters, visibility and sort; ties by id),
/// all of them, as a stream read as the caller consumes it. Paging parameters are ignored. The
/// stream holds `conn` until it ends: give it a connection of its own.
pub async fn export_deals<'c>(
    conn: &'c mut AsyncPgConnection,
    actor: &Actor,
    input: &ListDeals,
) -> Result<BoxStream<'c, Result<Deal, DealError>>, DealError> {
    actor.require(Permission::DealsRead)?;
    let query = crate::service::sorted(crate::service::filtered(actor, input), input)
        .then_order_by(deals::id.asc())
        .select(DealRow::as_select());
    let rows = query.load_stream::<DealRow>(conn).await?;
    // Fused: the row stream of diesel-async must not be polled again once it has ended.
    Ok(rows
        .map_ok(Deal::from)
        .map_err(DealError::from)
        .fuse()
        .boxed())
}
