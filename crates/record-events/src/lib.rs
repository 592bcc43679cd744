//! The update events of records that a set-based rewrite changed, for every record type.
//!
//! Renaming, merging or deleting a tag and custom-field definition changes (conversions,
//! option removal, adoption of values stored before the definition, deletion, deactivation
//! and activation) rewrite many records in a few statements instead of through each record's
//! update service. Their live subscribers must hear of every record as after a normal update,
//! and only the record crates know what that is (the record's API shape, its rooms and
//! receivers). This crate routes a rewriter's report ([`Rewritten`] records of one type) to
//! the record crate's `rewrite_events`, after loading the records in batches:
//!
//! - deals: [`crm_deals::rewrite_events`] (`deal.updated`, `deal.field.updated` per change,
//!   `contact.deal.updated`);
//! - contacts: [`crm_contacts::rewrite_events`] (`contact.updated`);
//! - tasks: [`crm_tasks::rewrite_events`] (`task.updated` to `task:{id}` and `user:{assignee}`);
//! - companies: nothing — the company service emits no realtime events (there is no company
//!   room), so neither do rewrites of companies.
//!
//! Why a crate of its own: `crm-custom-fields` is below the record crates (they validate
//! their values with it), so it cannot call them without a dependency cycle; it takes a
//! [`RewriteEvents`] hook instead, and [`RecordEvents`] is that hook. `crm-tags` has no such
//! constraint and calls [`rewritten`] directly. Depends on the record crates, `crm-events`,
//! `crm-core` and `crm-db`; nothing depends on it but the rewriters and the HTTP layer.

use crm_core::{Actor, EntityKind};
use crm_db::AsyncPgConnection;
use crm_db::schema::{contacts, deals, tasks};
use crm_events::{RewriteEvents, RewriteFuture, Rewritten};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Appends, in the caller's transaction, the update events of `records` (all of `kind`)
/// after a set-based rewrite, as the record type's own update emits them
/// (`rewrite_events` of the record crate). The records are read
/// [`REWRITE_BATCH`](crm_events::REWRITE_BATCH) at a time (one query per batch, one statement
/// appends the batch's events); records in the trash get no events. Kinds that are not records
/// with events (companies, and anything but contacts, deals and tasks) emit nothing.
pub async fn rewritten(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    kind: EntityKind,
    records: &[Rewritten],
) -> QueryResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    // The same batches for each record table; tables are distinct types in diesel.
    macro_rules! emit {
        ($records:ident, $table:ident, $row:ty, $api:ty) => {
            crm_events::rewrite::append_in_batches(
                conn,
                actor,
                records,
                async |conn, ids| {
                    let rows: Vec<$row> = $table::table
                        .filter($table::id.eq_any(ids))
                        .filter($table::deleted_at.is_null())
                        .select(<$row>::as_select())
                        .load(conn)
                        .await?;
                    Ok(rows
                        .into_iter()
                        .map(|r| (r.id.into(), <$api>::from(r)))
                        .collect())
                },
                $records::rewrite_events,
            )
            .await
        };
    }
    match kind {
        EntityKind::Deal => emit!(crm_deals, deals, crm_deals::model::DealRow, crm_deals::Deal),
        EntityKind::Contact => emit!(
            crm_contacts,
            contacts,
            crm_contacts::model::ContactRow,
            crm_contacts::Contact
        ),
        EntityKind::Task => emit!(crm_tasks, tasks, crm_tasks::model::TaskRow, crm_tasks::Task),
        _ => Ok(()),
    }
}

/// The [`RewriteEvents`] hook for `crm-custom-fields`: [`rewritten`] for every record type.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordEvents;

impl RewriteEvents for RecordEvents {
    fn rewritten<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        actor: &'a Actor,
        kind: EntityKind,
        records: &'a [Rewritten],
    ) -> RewriteFuture<'a> {
        Box::pin(rewritten(conn, actor, kind, records))
    }
}
