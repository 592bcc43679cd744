//! The realtime events of tasks, appended in the transaction of the change next to the
//! activity entries: `task.created`, `task.updated`, `task.deleted` to `task:{id}` and to the
//! personal room `user:{assignee}` (old and new assignee on a reassignment), and
//! `deal.task.created` to `deal:{dealId}` for a task created on a deal. Receivers: the task's
//! visibility rule, with its creator and assignee before and after the change.

use crm_core::Actor;
use crm_db::AsyncPgConnection;
use crm_db::schema::tasks;
use crm_events::{Audience, EventName, NewEvent, Rewritten, Room};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::TaskError;
use crate::model::{Task, TaskRow};

/// Who may receive events of `after` (changed from `before`).
pub(crate) fn audience(before: Option<&Task>, after: &Task) -> Audience {
    Audience::task(after.created_by_id, after.assigned_to_id).with_users(
        before
            .into_iter()
            .flat_map(|b| [b.created_by_id, b.assigned_to_id]),
    )
}

fn rooms(before: Option<&Task>, after: &Task) -> Vec<Room> {
    let mut rooms = vec![Room::Task(after.id)];
    rooms.extend(after.assigned_to_id.map(Room::User));
    rooms.extend(before.and_then(|b| b.assigned_to_id).map(Room::User));
    rooms
}

fn data(task: &Task) -> serde_json::Value {
    serde_json::to_value(task).unwrap_or_default()
}

/// `task.created`, and `deal.task.created` when the task is on a deal.
pub(crate) async fn created(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    task: &Task,
) -> Result<(), TaskError> {
    let mut events = vec![NewEvent::new(
        EventName::TaskCreated,
        rooms(None, task),
        audience(None, task),
        data(task),
    )];
    if let Some(deal) = task.deal_id {
        events.push(NewEvent::new(
            EventName::DealTaskCreated,
            vec![Room::Deal(deal)],
            audience(None, task),
            data(task),
        ));
    }
    crm_events::append(conn, actor, events).await?;
    Ok(())
}

/// `task.updated` (also after a restore, with `before` unknown).
pub(crate) async fn updated(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    before: Option<&Task>,
    after: &Task,
) -> Result<(), TaskError> {
    crm_events::append(conn, actor, vec![update_event(before, after)]).await?;
    Ok(())
}

/// `task.updated` with the task `after`, to its room and its assignees' rooms.
fn update_event(before: Option<&Task>, after: &Task) -> NewEvent {
    NewEvent::new(
        EventName::TaskUpdated,
        rooms(before, after),
        audience(before, after),
        data(after),
    )
}

/// The events of a task that a set-based rewrite changed (a tag renamed, merged or deleted;
/// custom-field values converted, removed, hidden or shown), with the task as it now is:
/// `task.updated` to `task:{id}` and `user:{assignee}`, what [`update_task`](crate::update_task)
/// emits for the same change (such rewrites never change the assignee). `crm-record-events`
/// loads the tasks and appends these.
pub fn rewrite_events(task: &Task, _: &Rewritten) -> Vec<NewEvent> {
    vec![update_event(Some(task), task)]
}

/// `task.deleted` with the task as last seen: `before` when it is gone for good, otherwise as
/// it now lies in the trash.
pub(crate) async fn deleted(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    before: Task,
    permanent: bool,
) -> Result<(), TaskError> {
    let task = if permanent {
        before
    } else {
        tasks::table
            .find(before.id)
            .select(TaskRow::as_select())
            .first::<TaskRow>(conn)
            .await?
            .into()
    };
    let event = NewEvent::new(
        EventName::TaskDeleted,
        rooms(None, &task),
        audience(None, &task),
        data(&task),
    );
    crm_events::append(conn, actor, vec![event]).await?;
    Ok(())
}
