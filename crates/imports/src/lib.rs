//! Imports: a CSV or XLSX file of contacts or companies turned into records by a durable
//! background job.
//!
//! The request stores the file (in the file storage, under `imports/`), writes the import and
//! enqueues its job in one transaction ([`create_import`]). The job ([`ImportJobs`]) reads the
//! file as a stream of rows (`crm-tabular`), maps columns to fields (explicitly, or from the
//! headers), and writes batches through the record crate's own import function — the rules of
//! its create endpoint, set-based. Each batch commits with the import's progress, its failed
//! rows and an `import.progress` event, so an attempt that dies is resumed after the last
//! committed batch. A dry run checks every row the same way and writes only the import's own
//! bookkeeping.

pub mod error;
pub mod mapping;
pub mod model;
pub mod run;
pub mod service;
mod values;

pub use error::ImportError;
pub use model::{Import, ImportEntity, ImportStatus, RowError, UpsertKey};
pub use run::{IMPORT_JOB, ImportJobs};
pub use service::{NewImport, create_import, failures_page, get_import, job_of, list_imports};

/// The part of the file storage where uploaded import files wait for their job.
pub fn import_storage(files: &crm_files::Storage) -> crm_files::Storage {
    files.scoped("imports")
}

/// Imports own the objects of the import storage while they are queued or running: an
/// object of none is left by a server that stopped between storing the upload and creating
/// the import, or before removing an ended import's file.
struct LiveImports;

impl crm_files::Owners for LiveImports {
    async fn known(
        &self,
        conn: &mut crm_db::AsyncPgConnection,
        ids: &[crm_core::FileId],
    ) -> diesel::QueryResult<std::collections::HashSet<crm_core::FileId>> {
        use crm_db::schema::imports;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        Ok(imports::table
            .filter(imports::id.eq_any(&ids))
            .filter(imports::status.eq_any(["queued", "running"]))
            .select(imports::id)
            .load::<uuid::Uuid>(conn)
            .await?
            .into_iter()
            .map(crm_core::FileId)
            .collect())
    }
}

/// Removes the import storage's objects older than `grace` that no queued or running import
/// reads; returns how many.
pub async fn sweep_files(
    pool: &crm_db::DbPool,
    files: &crm_files::Storage,
    grace: std::time::Duration,
) -> Result<usize, crm_files::FileError> {
    crm_files::sweep_unowned(pool, &import_storage(files), grace, &LiveImports).await
}
