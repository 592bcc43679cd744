//! The tag registry: every tag name records carry, with a colour and a usage count (non-trashed
//! contacts, companies, deals and tasks carrying it, case-insensitively). Renaming, merging and
//! deleting a tag rewrite every record carrying it in the same transaction, keeping each
//! record's tags free of duplicates. Reading needs only a signed-in actor; changes need
//! `tags.manage`.
//!
//! Records are rewritten through their tables, set-based; their realtime events (those of a
//! normal update with the `tags` change) come from the record crates through
//! `crm-record-events`. Depends on `crm-core`, `crm-db`, `crm-activity`, `crm-events` and
//! `crm-record-events`; no record crate depends on it.

pub mod error;
pub mod model;
pub mod service;

pub use error::TagError;
pub use model::{CreateTag, MergeTag, Tag, UpdateTag};
pub use service::{create_tag, delete_tag, get_tag, list_tags, merge_tag, update_tag};
