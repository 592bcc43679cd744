//! Comments and internal notes on deals, contacts and tasks. Anyone with `comments.write`
//! comments on records that exist and are not in the trash; only the author edits a comment;
//! the author or a holder of `comments.delete` deletes it (for good). Every change is written to
//! the timeline of the record commented on (`comment.created`, `comment.updated`,
//! `comment.deleted`) in the same transaction.
//!
//! Depends on `crm-core`, `crm-db`, `crm-activity` and `crm-events` only; whether the actor may
//! see the record commented on is checked by the caller (the HTTP layer knows every kind of
//! record).

pub mod error;
mod events;
pub mod model;
pub mod service;

pub use error::CommentError;
pub use model::{Comment, CommentTarget, CommentType, CreateComment, UpdateComment};
pub use service::{
    create_comment, delete_comment, get_comment, list_comments, list_comments_cursor,
    update_comment,
};
