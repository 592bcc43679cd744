//! Room names: `deal:{id}`, `contact:{id}`, `task:{id}`, `pipeline:{id}` (a board) and
//! `user:{id}` (a user's personal room).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// A room: the subscribers of one record (or of one user's personal events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Room {
    /// A deal card: the deal's events, its comments and the tasks created on it.
    Deal(Uuid),
    /// A contact: its events, its comments and its deals' changes.
    Contact(Uuid),
    /// A task: its events and its comments.
    Task(Uuid),
    /// A board: the events of every deal on the pipeline.
    Pipeline(Uuid),
    /// A user's own room: tasks assigned to them, reminders.
    User(Uuid),
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
            Room::Deal(id)
            | Room::Contact(id)
            | Room::Task(id)
            | Room::Pipeline(id)
            | Room::User(id) => id,
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
            "deal" => Room::Deal,
            "contact" => Room::Contact,
            "task" => Room::Task,
            "pipeline" => Room::Pipeline,
            "user" => Room::User,
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
            Room::Deal(id),
            Room::Contact(id),
            Room::Task(id),
            Room::Pipeline(id),
            Room::User(id),
        ] {
            assert_eq!(room.to_string().parse::<Room>(), Ok(room));
        }
        let upper = format!("deal:{}", id.to_string().to_uppercase());
        assert_eq!(upper.parse::<Room>(), Ok(Room::Deal(id)));
        assert_eq!(
            Room::Deal(id).to_string(),
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
