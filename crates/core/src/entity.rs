//! Pointers to any record (`EntityRef`), so comments, files, activity and tasks can refer to
//! deals or contacts without depending on their crates.

use uuid::Uuid;

use crate::ids::RecordId;

crate::named_enum! {
    /// Kinds of records that have timelines, comments or rooms.
    pub enum EntityKind in "snake_case" {
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
    /// The record a typed id names.
    pub fn of<I: RecordId>(id: I) -> Self {
        Self::new(I::KIND, id)
    }

    /// A reference.
    pub fn new(kind: EntityKind, id: impl Into<Uuid>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}
