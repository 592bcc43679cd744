//! The task record as stored and as the API shows it.

use chrono::{DateTime, Utc};
use crm_core::{ContactId, DealId, TaskId, UserId};
use crm_db::schema::tasks;
use diesel::prelude::*;
use serde::Serialize;

crm_core::named_enum! {
    /// Where a task stands.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum TaskStatus in "SCREAMING_SNAKE_CASE" {
        /// Not started (the default).
        Todo,
        /// Being worked on.
        InProgress,
        /// Finished; `completedAt` is set.
        Done,
        /// Dropped.
        Cancelled,
    }
}

crm_db::stored_name!(TaskStatus);

crm_core::named_enum! {
    /// How urgent a task is: `URGENT` > `HIGH` > `MEDIUM` > `LOW`.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum TaskPriority in "SCREAMING_SNAKE_CASE" {
        /// Whenever.
        Low,
        /// The default.
        Medium,
        /// Soon.
        High,
        /// Now.
        Urgent,
    }
}

crm_db::stored_name!(TaskPriority);

crm_core::named_enum! {
    /// What kind of work a task is.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum TaskType in "SCREAMING_SNAKE_CASE" {
        /// A phone call.
        Call,
        /// A meeting.
        Meeting,
        /// A follow-up.
        FollowUp,
        /// An e-mail.
        Email,
        /// Anything else (the default).
        Other,
    }
}

crm_db::stored_name!(TaskType);

impl TaskStatus {
    /// Whether the task is still to be done (and so can be overdue).
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Todo | TaskStatus::InProgress)
    }
}

/// A row of `tasks`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tasks)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TaskRow {
    pub id: TaskId,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub kind: TaskType,
    pub due_at: Option<DateTime<Utc>>,
    pub remind_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub deal_id: Option<DealId>,
    pub contact_id: Option<ContactId>,
    pub assigned_to_id: Option<UserId>,
    pub created_by_id: Option<UserId>,
    pub tags: Vec<String>,
    pub custom_fields: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i32,
}

/// A task as services return it and the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// What to do, 1–300 characters.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// Where it stands.
    pub status: TaskStatus,
    /// How urgent it is.
    pub priority: TaskPriority,
    /// What kind of work it is.
    #[serde(rename = "type")]
    pub kind: TaskType,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// When to remind the assignee (`task.reminder` in their personal room), apart from
    /// `dueAt`.
    pub remind_at: Option<DateTime<Utc>>,
    /// When it was last marked `DONE` (read-only; cleared when it leaves `DONE`).
    pub completed_at: Option<DateTime<Utc>>,
    /// Computed: due in the past and still `TODO` or `IN_PROGRESS`.
    pub overdue: bool,
    /// The deal it belongs to.
    pub deal_id: Option<DealId>,
    /// The contact it concerns.
    pub contact_id: Option<ContactId>,
    /// Who does it.
    pub assigned_to_id: Option<UserId>,
    /// Who created it.
    pub created_by_id: Option<UserId>,
    /// Tag names.
    pub tags: Vec<String>,
    /// Custom field values (a JSON object).
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was moved to the trash; `null` unless trashed.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl From<TaskRow> for Task {
    fn from(r: TaskRow) -> Self {
        let status = r.status;
        let overdue = status.is_open() && r.due_at.is_some_and(|d| d < Utc::now());
        Self {
            id: r.id,
            title: r.title,
            description: r.description,
            status,
            priority: r.priority,
            kind: r.kind,
            due_at: r.due_at,
            remind_at: r.remind_at,
            completed_at: r.completed_at,
            overdue,
            deal_id: r.deal_id,
            contact_id: r.contact_id,
            assigned_to_id: r.assigned_to_id,
            created_by_id: r.created_by_id,
            tags: r.tags,
            custom_fields: r.custom_fields,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            version: r.version,
        }
    }
}

impl Task {
    /// The representation compared for activity changes: without the computed `overdue`.
    pub(crate) fn change_view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("overdue");
        }
        v
    }
}
