//! The comment record and the inputs of the comment services.

use chrono::{DateTime, Utc};
use crm_core::{CommentId, EntityKind, UserId};
use crm_db::schema::comments;
use diesel::prelude::*;
use garde::Validate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crm_core::named_enum! {
    /// Kinds of records that take comments.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum CommentTarget in "snake_case" {
        /// A deal.
        Deal,
        /// A contact.
        Contact,
        /// A task.
        Task,
    }
}

impl CommentTarget {
    /// The entity kind, for timelines and visibility checks.
    pub fn kind(self) -> EntityKind {
        match self {
            CommentTarget::Deal => EntityKind::Deal,
            CommentTarget::Contact => EntityKind::Contact,
            CommentTarget::Task => EntityKind::Task,
        }
    }
}

crm_db::stored_name!(CommentTarget);

crm_core::named_enum! {
    /// A comment for everyone, or an internal note.
    #[derive(Default, diesel::deserialize::FromSqlRow)]
    pub enum CommentType in "SCREAMING_SNAKE_CASE" {
        /// A comment (the default).
        #[default]
        Comment,
        /// An internal note.
        InternalNote,
    }
}

crm_db::stored_name!(CommentType);

/// A row of `comments`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CommentRow {
    pub id: CommentId,
    pub entity_type: CommentTarget,
    pub entity_id: Uuid,
    pub author_id: Option<UserId>,
    pub kind: CommentType,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A comment as services return it and the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    /// Id.
    pub id: CommentId,
    /// Kind of the record commented on.
    pub entity_type: CommentTarget,
    /// Id of the record commented on.
    pub entity_id: Uuid,
    /// Who wrote it (`null` once the user is deleted).
    pub author_id: Option<UserId>,
    /// Comment or internal note.
    #[serde(rename = "type")]
    pub kind: CommentType,
    /// The text, 1–10000 characters.
    pub content: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Self {
        Self {
            id: r.id,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            author_id: r.author_id,
            kind: r.kind,
            content: r.content,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

/// A new comment.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateComment {
    /// Kind of the record commented on.
    #[garde(skip)]
    pub entity_type: CommentTarget,
    /// Id of a record that exists and is not in the trash.
    #[garde(skip)]
    pub entity_id: Uuid,
    /// Default `COMMENT`.
    #[serde(default, rename = "type")]
    #[garde(skip)]
    pub kind: CommentType,
    /// The text, 1–10000 characters (not only blanks).
    #[garde(length(chars, min = 1, max = 10000), custom(not_blank))]
    #[schema(min_length = 1, max_length = 10000)]
    pub content: String,
}

/// A change to one's own comment.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateComment {
    /// New text, 1–10000 characters.
    #[garde(inner(length(chars, min = 1, max = 10000), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 10000)]
    pub content: Option<String>,
    /// Comment or internal note.
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: Option<CommentType>,
}

fn not_blank(value: &str, _: &()) -> garde::Result {
    if value.trim().is_empty() {
        Err(garde::Error::new("must not be blank"))
    } else {
        Ok(())
    }
}
