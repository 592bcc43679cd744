//! Inputs of the task services, validated with garde before anything touches the database.

use chrono::{DateTime, Utc};
use crm_core::{ContactId, Cursor, DealId, PageRequest, SortSpec, UserId};
use crm_custom_fields::CfQuery;
use garde::Validate;
use serde::Deserialize;

use crate::model::{TaskPriority, TaskStatus, TaskType};

/// A new task.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTask {
    /// What to do (trimmed), 1–300 characters.
    #[garde(length(chars, min = 1, max = 300))]
    #[schema(min_length = 1, max_length = 300)]
    pub title: String,
    /// Details, at most 10000 characters.
    #[serde(default)]
    #[garde(inner(length(chars, max = 10000)))]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// Default `TODO`; `DONE` sets `completedAt`.
    #[serde(default)]
    #[garde(skip)]
    pub status: Option<TaskStatus>,
    /// Default `MEDIUM`.
    #[serde(default)]
    #[garde(skip)]
    pub priority: Option<TaskPriority>,
    /// Default `OTHER`.
    #[serde(default, rename = "type")]
    #[garde(skip)]
    pub kind: Option<TaskType>,
    /// When it is due.
    #[serde(default)]
    #[garde(skip)]
    pub due_at: Option<DateTime<Utc>>,
    /// When to remind the assignee (`task.reminder`), e.g. a quarter of an hour before `dueAt`.
    #[serde(default)]
    #[garde(skip)]
    pub remind_at: Option<DateTime<Utc>>,
    /// A deal that exists and is not in the trash.
    #[serde(default)]
    #[garde(skip)]
    pub deal_id: Option<DealId>,
    /// A contact that exists and is not in the trash.
    #[serde(default)]
    #[garde(skip)]
    pub contact_id: Option<ContactId>,
    /// An active user; default: the acting user.
    #[serde(default)]
    #[garde(skip)]
    pub assigned_to_id: Option<UserId>,
    /// Tag names (trimmed, deduplicated case-insensitively, at most 50 of 1–50 characters).
    #[serde(default, deserialize_with = "crm_core::tags::first_tags")]
    #[garde(skip)]
    pub tags: Vec<String>,
    /// Custom field values `{key: value}`, validated against the task custom fields
    /// (`GET /api/custom-fields?entityType=task`); absent fields get their default.
    #[serde(default)]
    #[garde(skip)]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Value>,
}

/// A change to a task; absent fields stay as they are, `null` clears a nullable field.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTask {
    /// What to do (trimmed), 1–300 characters.
    #[garde(inner(length(chars, min = 1, max = 300)))]
    #[schema(min_length = 1, max_length = 300)]
    pub title: Option<String>,
    /// Details; `null` clears.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[garde(inner(inner(length(chars, max = 10000))))]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Option<Option<String>>,
    /// New status: entering `DONE` sets `completedAt`, leaving it clears it.
    #[garde(skip)]
    pub status: Option<TaskStatus>,
    /// New priority.
    #[garde(skip)]
    pub priority: Option<TaskPriority>,
    /// New type.
    #[serde(rename = "type")]
    #[garde(skip)]
    pub kind: Option<TaskType>,
    /// Due date; `null` clears.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[garde(skip)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub due_at: Option<Option<DateTime<Utc>>>,
    /// Reminder time; `null` clears. A new time arms the reminder again.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[garde(skip)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub remind_at: Option<Option<DateTime<Utc>>>,
    /// Deal; `null` unlinks.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[garde(skip)]
    #[schema(value_type = Option<Uuid>)]
    pub deal_id: Option<Option<DealId>>,
    /// Contact; `null` unlinks.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[garde(skip)]
    #[schema(value_type = Option<Uuid>)]
    pub contact_id: Option<Option<ContactId>>,
    /// Assignee (an active user); `null` unassigns.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[garde(skip)]
    #[schema(value_type = Option<Uuid>)]
    pub assigned_to_id: Option<Option<UserId>>,
    /// Replaces the tags.
    #[serde(default, deserialize_with = "crm_core::tags::first_tags_or_null")]
    #[garde(skip)]
    pub tags: Option<Vec<String>>,
    /// Custom field values, merged key by key: a value sets the key, `null` clears it (not
    /// for required fields), keys not named stay.
    #[garde(skip)]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Value>,
}

/// Sortable task fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSort {
    /// `createdAt`
    CreatedAt,
    /// `updatedAt`
    UpdatedAt,
    /// `dueAt` (tasks without a due date last)
    DueAt,
    /// `priority` (ascending: `LOW` first; `-priority`: `URGENT` first)
    Priority,
    /// `title`
    Title,
    /// `cf.<key>`: the key at this index of `ListTasks::custom_fields.sort_keys`.
    CustomField(usize),
}

impl TaskSort {
    /// API names of the sortable fields.
    pub const ALLOWED: &'static [(&'static str, TaskSort)] = &[
        ("createdAt", TaskSort::CreatedAt),
        ("updatedAt", TaskSort::UpdatedAt),
        ("dueAt", TaskSort::DueAt),
        ("priority", TaskSort::Priority),
        ("title", TaskSort::Title),
    ];
}

/// A validated task list request.
#[derive(Debug, Clone)]
pub struct ListTasks {
    /// Which page (offset paging; ignored by the cursor list except for `limit`).
    pub page: PageRequest,
    /// Order (offset paging only).
    pub sort: SortSpec<TaskSort>,
    /// `Some` for keyset paging: `Some(None)` is the first page.
    pub cursor: Option<Option<Cursor>>,
    /// Fragment of the title, case-insensitive.
    pub q: Option<String>,
    /// Any of these statuses (empty: all).
    pub status: Vec<TaskStatus>,
    /// Only this priority.
    pub priority: Option<TaskPriority>,
    /// Only this type.
    pub kind: Option<TaskType>,
    /// Only tasks assigned to this user.
    pub assigned_to_id: Option<UserId>,
    /// Only tasks of this deal.
    pub deal_id: Option<DealId>,
    /// Only tasks of this contact.
    pub contact_id: Option<ContactId>,
    /// Only overdue (`true`) or not overdue (`false`) tasks.
    pub overdue: Option<bool>,
    /// Due at or after.
    pub due_from: Option<DateTime<Utc>>,
    /// Due at or before.
    pub due_to: Option<DateTime<Utc>>,
    /// Only tasks carrying this tag (case-insensitive).
    pub tag: Option<String>,
    /// Changed at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// `true`: the trash only.
    pub deleted: bool,
    /// `cf.<key>` filters and the keys of `cf.<key>` sort entries.
    pub custom_fields: CfQuery,
}

impl Default for ListTasks {
    fn default() -> Self {
        Self {
            page: PageRequest::default(),
            sort: SortSpec {
                keys: vec![(TaskSort::CreatedAt, crm_core::SortDirection::Asc)],
            },
            cursor: None,
            q: None,
            status: Vec::new(),
            priority: None,
            kind: None,
            assigned_to_id: None,
            deal_id: None,
            contact_id: None,
            overdue: None,
            due_from: None,
            due_to: None,
            tag: None,
            updated_since: None,
            deleted: false,
            custom_fields: CfQuery::default(),
        }
    }
}
