//! Records changed set-based, and the hook that appends their update events.
//!
//! Some writes change many records in one statement instead of going through the record's
//! own update service: renaming, merging or deleting a tag (`crm-tags`), and custom-field
//! definition changes that convert, remove, adopt, hide or show stored values
//! (`crm-custom-fields`). Their subscribers must still hear of each record exactly as after a
//! normal update (`deal.updated` with the whole deal, `deal.field.updated` per changed field,
//! `contact.deal.updated`, `contact.updated`, `task.updated`, ...). Only the record crates
//! know the API shape of their records and the rooms and audiences of their events, so the
//! rewriter reports *what* it changed ([`Rewritten`]: the record and its field changes) and
//! a record crate turns that into events, in the rewriter's transaction.
//!
//! `crm-custom-fields` sits *below* the record crates (they validate their values with it),
//! so it cannot call them; it takes a [`RewriteEvents`] instead, which the layer that knows
//! every record crate supplies (`crm_record_events::RecordEvents`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use crm_core::{Actor, Change, EntityKind};
use crm_db::AsyncPgConnection;
use diesel::QueryResult;
use uuid::Uuid;

/// How many records an emitter loads (and appends the events of) per round trip: one query
/// reads a batch, one statement appends its events.
pub const REWRITE_BATCH: usize = 500;

/// One record a set-based rewrite changed, with its field-level changes in API names
/// (`tags`, `customFields.<key>`). The record is read again when its events are written, so
/// the events carry it as it is at that point of the transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewritten {
    /// The record.
    pub id: Uuid,
    /// What changed, each field once, `from` the value before the rewrite.
    pub changes: Vec<Change>,
}

/// The loop every record crate's emitter runs: for each [`REWRITE_BATCH`] of `records`,
/// `load` reads the batch's records by id (one query; records left out, e.g. in the trash,
/// get no events), `events` turns each changed record into its update events, and one
/// statement appends them.
pub async fn append_in_batches<T>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    records: &[Rewritten],
    mut load: impl AsyncFnMut(&mut AsyncPgConnection, &[Uuid]) -> QueryResult<HashMap<Uuid, T>>,
    mut events: impl FnMut(&T, &Rewritten) -> Vec<crate::NewEvent>,
) -> QueryResult<()> {
    for batch in records.chunks(REWRITE_BATCH) {
        let ids: Vec<Uuid> = batch.iter().map(|r| r.id).collect();
        let found = load(conn, &ids).await?;
        let new = batch
            .iter()
            .filter(|r| !r.changes.is_empty())
            .filter_map(|r| found.get(&r.id).map(|record| events(record, r)))
            .flatten()
            .collect();
        crate::append(conn, actor, new).await?;
    }
    Ok(())
}

/// The future of [`RewriteEvents::rewritten`].
pub type RewriteFuture<'a> = Pin<Box<dyn Future<Output = QueryResult<()>> + Send + 'a>>;

/// Appends the update events of records that a set-based rewrite changed, in the caller's
/// transaction. Implementations read the records in batches of [`REWRITE_BATCH`] (a constant
/// number of queries per batch, never one per record); records in the trash get no events
/// (they are on no board and their rooms cannot be joined; a restore emits their state).
pub trait RewriteEvents: Sync {
    /// The events of `records`, all of `kind` (`Deal`, `Contact`, `Company`, `Task`).
    fn rewritten<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        actor: &'a Actor,
        kind: EntityKind,
        records: &'a [Rewritten],
    ) -> RewriteFuture<'a>;
}
