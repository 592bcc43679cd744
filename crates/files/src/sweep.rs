//! Removing objects that no file row names: left by a server that died mid-upload or before
//! removing a deleted file's object, or by records purged with their files (their rows go with
//! the record, see the `files_forget_host` trigger). Objects younger than the grace period are
//! left alone: their upload may still be about to commit its row.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use crm_core::FileId;
use crm_db::DbPool;
use crm_db::pool::get_conn;
use crm_db::schema::files;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::TryStreamExt;

use crate::error::FileError;
use crate::storage::{Listed, Storage};

/// Ids looked up per query.
const BATCH: usize = 500;

/// What says which objects of a storage are still wanted.
pub trait Owners {
    /// Of `ids`, the ones still wanted.
    fn known(
        &self,
        conn: &mut crm_db::AsyncPgConnection,
        ids: &[FileId],
    ) -> impl Future<Output = QueryResult<HashSet<FileId>>> + Send;
}

/// File rows own the objects of the file storage.
struct FileRows;

impl Owners for FileRows {
    async fn known(
        &self,
        conn: &mut crm_db::AsyncPgConnection,
        ids: &[FileId],
    ) -> QueryResult<HashSet<FileId>> {
        Ok(files::table
            .filter(files::id.eq_any(ids))
            .select(files::id)
            .load::<FileId>(conn)
            .await?
            .into_iter()
            .collect())
    }
}

/// Removes every object older than `grace` whose id has no file row; returns how many.
pub async fn sweep_orphans(
    pool: &DbPool,
    storage: &Storage,
    grace: Duration,
) -> Result<usize, FileError> {
    sweep_unowned(pool, storage, grace, &FileRows).await
}

/// Removes every object of `storage` (its own part, not the parts scoped under it) older than
/// `grace` that `owners` does not want; returns how many. Takes a connection from the pool
/// only for each lookup, never while listing or deleting.
pub async fn sweep_unowned(
    pool: &DbPool,
    storage: &Storage,
    grace: Duration,
    owners: &impl Owners,
) -> Result<usize, FileError> {
    let cutoff = Utc::now() - chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX);
    let mut objects = storage.objects();
    let mut batch: Vec<(FileId, Listed)> = Vec::with_capacity(BATCH);
    let mut removed = 0;
    while let Some(object) = objects.try_next().await? {
        if object.last_modified >= cutoff {
            continue;
        }
        // Objects not named by an id were not written here: never touched.
        let Some(id) = object.id else { continue };
        batch.push((id, object));
        if batch.len() == BATCH {
            removed += sweep_batch(pool, storage, &mut batch, owners).await?;
        }
    }
    removed += sweep_batch(pool, storage, &mut batch, owners).await?;
    Ok(removed)
}

async fn sweep_batch(
    pool: &DbPool,
    storage: &Storage,
    batch: &mut Vec<(FileId, Listed)>,
    owners: &impl Owners,
) -> Result<usize, FileError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<FileId> = batch.iter().map(|(id, _)| *id).collect();
    let known = {
        let mut conn = get_conn(pool).await?;
        owners.known(&mut conn, &ids).await?
    };
    let mut removed = 0;
    for (id, object) in batch.drain(..) {
        if !known.contains(&id) {
            storage.remove_key(&object.location).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
