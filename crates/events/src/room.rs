//! Room names: `deal:{id}`, `contact:{id}`, `task:{id}`, `pipeline:{id}` (a board) and
//! `user:{id}` (a user's personal room).

use std::fmt;
use std::str::FromStr;

use crm_core::{ContactId, DealId, PipelineId, TaskId, UserId};
use uuid::Uuid;

/// A room: the subscribers of one record (or of one user's personal events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Room {
    /// A deal card: the deal's events, its comments and the tasks created on it.
    Deal(DealId),
    /// A contact: its events, its comments and its deals' changes.
    Contact(ContactId),
    /// A task: its events and its comments.
    Task(TaskId),
    /// A board: the events of every deal on the pipeline.
    Pipeline(PipelineId),
    /// A user's own room: tasks assigned to them, reminders.
    User(UserId),
}

/// Why a room name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// Not `<kind>:<id>`.
    #[error("a room is written <kind>:<id>, e.g. deal:0190...")]
    Malformed,
    /// The kind is not one of deal, contact, task, pipeline, user.
    #[error("unknown room type {0:?}: use deal, contact, task, pipeline or user")]
    UnknownKind(String),
    /// The id is not a UUID.
    #[error("the id of a room must be a UUID")]
    BadId,
}

impl Room {
    /// The kind part of the name (`deal`, `contact`, ...).
    pub fn kind(self) -> &'static str {
        match self {
            Room::Deal(_) => "deal",
            Room::Contact(_) => "contact",
            Room::Task(_) => "task",
            Room::Pipeline(_) => "pipeline",
            Room::User(_) => "user",
        }
    }

    /// The id part of the name.
    pub fn id(self) -> Uuid {
        match self {
            Room::Deal(id) => id.0,
            Room::Contact(id) => id.0,
            Room::Task(id) => id.0,
            Room::Pipeline(id) => id.0,
            Room::User(id) => id.0,
        }
    }
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id())
    }
}

impl FromStr for Room {
    type Err = RoomError;

    fn from_str(s: &str) -> Result<Self, RoomError> {
        let (kind, id) = s.split_once(':').ok_or(RoomError::Malformed)?;
        let make: fn(Uuid) -> Room = match kind {
            "deal" => |id| Room::Deal(id.into()),
            "contact" => |id| Room::Contact(id.into()),
            "task" => |id| Room::Task(id.into()),
            "pipeline" => |id| Room::Pipeline(id.into()),
            "user" => |id| Room::User(id.into()),
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(RoomError::UnknownKind(shown));
            }
        };
        // Only the hyphenated form: one spelling per room.
        if id.len() != 36 {
            return Err(RoomError::BadId);
        }
        Uuid::parse_str(id).map(make).map_err(|_| RoomError::BadId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_round_trip_in_canonical_form() {
        let id = Uuid::now_v7();
        for room in [
            Room::Deal(id.into()),
            Room::Contact(id.into()),
            Room::Task(id.into()),
            Room::Pipeline(id.into()),
            Room::User(id.into()),
        ] {
            assert_eq!(room.to_string().parse::<Room>(), Ok(room));
        }
        let upper = format!("deal:{}", id.to_string().to_uppercase());
        assert_eq!(upper.parse::<Room>(), Ok(Room::Deal(id.into())));
        assert_eq!(
            Room::Deal(id.into()).to_string(),
            format!("deal:{}", id.hyphenated())
        );
    }

    #[test]
    fn bad_room_names_say_what_is_wrong() {
        assert_eq!("deal".parse::<Room>(), Err(RoomError::Malformed));
        assert!(matches!(
            "company:0190c3e0-0000-7000-8000-000000000000".parse::<Room>(),
            Err(RoomError::UnknownKind(k)) if k == "company"
        ));
        assert_eq!("deal:42".parse::<Room>(), Err(RoomError::BadId));
        assert_eq!(
            "deal:0190c3e000007000800000000000000000".parse::<Room>(),
            Err(RoomError::BadId)
        );
        assert_eq!("deal:".parse::<Room>(), Err(RoomError::BadId));
    }
}
