//! The vocabulary every CRM crate shares: typed ids, paging (offset pages, cursor pages and the
//! `Listing` of either) and sorting, record versions (`check_version`), the permission catalogue
//! with role defaults, the acting principal (`Actor`) and the error kinds that the HTTP layer
//! maps to status codes.
//!
//! This crate depends on nothing of the project and on no database or web framework.

pub mod actor;
pub mod change;
pub mod checks;
pub mod cursor;
pub mod entity;
pub mod error;
pub mod ids;
pub mod listing;
pub mod named_enum;
pub mod normalize;
pub mod paging;
pub mod patch;
pub mod permissions;
pub mod sort;
pub mod tags;
pub mod version;

pub use actor::Actor;
pub use change::Change;
pub use cursor::{Cursor, CursorPage};
pub use entity::{EntityKind, EntityRef};
pub use error::{DomainError, ErrorKind, FieldError};
pub use ids::{
    ApiKeyId, CommentId, CompanyId, ContactId, CustomFieldId, DealId, FileId, JobId, PipelineId,
    RecordId, StageId, TagId, TaskId, UserId,
};
pub use listing::Listing;
pub use paging::{Page, PageRequest};
pub use permissions::{Permission, PermissionSet, Role};
pub use sort::{SortDirection, SortSpec};
pub use version::{VersionMismatch, check_version};
