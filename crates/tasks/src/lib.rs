//! Tasks: to-dos with a status, a priority, a type and a due date, optionally linked to a deal
//! and a contact and assigned to a user. A task is visible to holders of `tasks.read_all` and
//! otherwise to its creator and its assignee. Deleting moves a task to the trash; admins may
//! delete for good. Every change is written to the activity log in the same transaction.
//!
//! Depends on `crm-core`, `crm-db`, `crm-activity`, `crm-custom-fields` and `crm-events` only:
//! deals, contacts and users are checked through their tables (`crm_db::links`), not their
//! crates.

pub mod error;
mod events;
pub mod export;
pub mod import;
pub mod input;
pub mod model;
pub mod reminders;
pub mod service;

pub use error::TaskError;
pub use events::rewrite_events;
pub use input::{CreateTask, ListTasks, TaskSort, UpdateTask};
pub use model::{Task, TaskPriority, TaskStatus, TaskType};
pub use service::{
    create_task, delete_task, get_task, list_tasks, purge_trash, restore_task, update_task,
};
