//! The event names of ARCHITECTURE §4 (and `task.due` / `task.reminder`, the reminders of the
//! personal room).

use std::fmt;

/// The kind of an event, as sent in `{"type": "event", "event": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    /// A deal was created (data: the deal).
    DealCreated,
    /// A deal changed (data: the whole deal after the change).
    DealUpdated,
    /// One field of a deal changed (data: `{dealId, field, from, to}`; custom fields are
    /// `customFields.<key>`).
    DealFieldUpdated,
    /// A deal moved to another stage (data: the deal after the move).
    DealStageChanged,
    /// A deal was moved to the trash or deleted for good (data: the deal as last seen).
    DealDeleted,
    /// A task was created on a deal (data: the task), in the deal's room.
    DealTaskCreated,
    /// A task was created (data: the task).
    TaskCreated,
    /// A task changed (data: the task).
    TaskUpdated,
    /// A task was trashed or deleted for good (data: the task as last seen).
    TaskDeleted,
    /// A task assigned to the user is due now (data: the task), in `user:{assignee}`.
    TaskDue,
    /// The reminder time (`remindAt`) of a task assigned to the user has come (data: the
    /// task), in `user:{assignee}`.
    TaskReminder,
    /// A contact was created (data: the contact).
    ContactCreated,
    /// A contact changed (data: the contact).
    ContactUpdated,
    /// A contact was trashed or deleted for good (data: the contact as last seen).
    ContactDeleted,
    /// A deal of the contact was created, changed or deleted (data: the deal).
    ContactDealUpdated,
    /// A comment was written on the room's record (data: the comment).
    CommentCreated,
    /// A comment was edited (data: the comment).
    CommentUpdated,
    /// A comment was deleted (data: the comment as last seen).
    CommentDeleted,
    /// A file was attached to the room's record, or to a comment on it (data: the file).
    FileUploaded,
    /// A file was deleted (data: the file as last seen).
    FileDeleted,
    /// A message arrived from a messenger (integrations are not built yet: never emitted).
    MessageReceived,
    /// A call was logged (integrations are not built yet: never emitted).
    CallLogged,
    /// Progress of an import (imports are not built yet: never emitted).
    ImportProgress,
    /// An import finished (imports are not built yet: never emitted).
    ImportFinished,
}

impl EventName {
    /// Every name, in the order of ARCHITECTURE §4 (`task.due`, `task.reminder` after the task
    /// events).
    pub const ALL: [EventName; 24] = [
        EventName::DealCreated,
        EventName::DealUpdated,
        EventName::DealFieldUpdated,
        EventName::DealStageChanged,
        EventName::DealDeleted,
        EventName::DealTaskCreated,
        EventName::TaskCreated,
        EventName::TaskUpdated,
        EventName::TaskDeleted,
        EventName::TaskDue,
        EventName::TaskReminder,
        EventName::ContactCreated,
        EventName::ContactUpdated,
        EventName::ContactDeleted,
        EventName::ContactDealUpdated,
        EventName::CommentCreated,
        EventName::CommentUpdated,
        EventName::CommentDeleted,
        EventName::FileUploaded,
        EventName::FileDeleted,
        EventName::MessageReceived,
        EventName::CallLogged,
        EventName::ImportProgress,
        EventName::ImportFinished,
    ];

    /// The wire name, e.g. `deal.field.updated`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::DealCreated => "deal.created",
            EventName::DealUpdated => "deal.updated",
            EventName::DealFieldUpdated => "deal.field.updated",
            EventName::DealStageChanged => "deal.stage.changed",
            EventName::DealDeleted => "deal.deleted",
            EventName::DealTaskCreated => "deal.task.created",
            EventName::TaskCreated => "task.created",
            EventName::TaskUpdated => "task.updated",
            EventName::TaskDeleted => "task.deleted",
            EventName::TaskDue => "task.due",
            EventName::TaskReminder => "task.reminder",
            EventName::ContactCreated => "contact.created",
            EventName::ContactUpdated => "contact.updated",
            EventName::ContactDeleted => "contact.deleted",
            EventName::ContactDealUpdated => "contact.deal.updated",
            EventName::CommentCreated => "comment.created",
            EventName::CommentUpdated => "comment.updated",
            EventName::CommentDeleted => "comment.deleted",
            EventName::FileUploaded => "file.uploaded",
            EventName::FileDeleted => "file.deleted",
            EventName::MessageReceived => "message.received",
            EventName::CallLogged => "call.logged",
            EventName::ImportProgress => "import.progress",
            EventName::ImportFinished => "import.finished",
        }
    }

    /// The name for a wire name, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for name in EventName::ALL {
            assert_eq!(EventName::parse(name.as_str()), Some(name));
        }
        let mut names: Vec<&str> = EventName::ALL.iter().map(|n| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventName::ALL.len());
        assert_eq!(EventName::parse("deal.exploded"), None);
    }
}
