//! Pointers to any record (`EntityRef`), so comments, files, activity and tasks can refer to
//! deals or contacts without depending on their crates.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumString, IntoStaticStr};
use uuid::Uuid;

/// Kinds of records that have timelines, comments or rooms.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Display,
    EnumString,
    IntoStaticStr,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A deal.
    Deal,
    /// A contact.
    Contact,
    /// A company.
    Company,
    /// A task.
    Task,
    /// A pipeline (and its stages).
    Pipeline,
    /// A stage.
    Stage,
    /// A user.
    User,
    /// A tag.
    Tag,
    /// A comment.
    Comment,
    /// A custom field definition.
    CustomField,
}

impl EntityKind {
    /// Storage and API name, e.g. `deal`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A record of some kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityRef {
    /// Its kind.
    pub kind: EntityKind,
    /// Its id.
    pub id: Uuid,
}

impl EntityRef {
    /// A reference.
    pub fn new(kind: EntityKind, id: impl Into<Uuid>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}
