//! Files attached to records (deals, contacts, companies, tasks and comments).
//!
//! An upload streams into object storage ([`Storage`]: a local directory or an S3-compatible
//! bucket) under the file's id while it is hashed (sha256), counted against the size limit and
//! sniffed for its content type ([`Upload`]); only a complete object gets a row ([`attach`]), in
//! one transaction with the timeline entry and the `file.uploaded` event. Deleting a row removes
//! its object after the commit; objects that no row names (a crash mid-upload, a record purged
//! with its files) are removed by [`sweep_orphans`].
//!
//! Depends on `crm-core`, `crm-db`, `crm-activity` and `crm-events` only; whether the actor may
//! see the record a file hangs on is decided by the record's own rule (the HTTP layer asks the
//! record's read service, as for comments); attaching checks it in the transaction.

pub mod error;
mod events;
pub mod model;
pub mod service;
pub mod storage;
pub mod sweep;
pub mod upload;

pub use error::FileError;
pub use model::{FileHost, StoredFile};
pub use service::{attach, delete_file, get_file, list_files};
pub use storage::Storage;
pub use sweep::{Owners, sweep_orphans, sweep_unowned};
pub use upload::{StoredObject, Upload};
