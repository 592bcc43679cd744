//! Reminders in the assignee's personal room: `task.due` when an open task's `dueAt` comes,
//! `task.reminder` when its `remindAt` comes. Run [`fire_due_reminders`] every few seconds
//! from any number of server instances: each task fires once per kind and time, because the
//! `task_reminders` row is what decides (the instance whose insert wins emits; the others'
//! inserts do nothing).

use chrono::{DateTime, TimeDelta, Utc};
use crm_core::{Actor, TaskId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{task_reminders, tasks};
use crm_events::{EventName, NewEvent, Room};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::collections::HashMap;

use crate::error::TaskError;
use crate::model::{Task, TaskRow};

/// Tasks due longer ago than this when first seen (the server was down) get no reminder.
pub const LOOKBACK: TimeDelta = TimeDelta::days(1);

/// Most reminders fired per call; the next call takes the rest.
const BATCH: i64 = 500;

#[derive(QueryableByName)]
struct Fired {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    task_id: TaskId,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
}

/// Fires the reminders due at `now`: open, assigned, not trashed tasks whose `dueAt`
/// (`task.due`) or `remindAt` (`task.reminder`) is within [`LOOKBACK`]; returns how many
/// this call fired.
pub async fn fire_due_reminders(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> Result<usize, TaskError> {
    conn.transaction(async |conn| {
        let mut fired: Vec<Fired> = diesel::sql_query(
            "INSERT INTO task_reminders (task_id, kind, at) \
             SELECT c.id, c.kind, c.at FROM ( \
                 SELECT t.id, 'DUE' AS kind, t.due_at AS at FROM tasks t \
                 WHERE t.status IN ('TODO', 'IN_PROGRESS') \
                   AND t.due_at <= $1 AND t.due_at > $2 \
                   AND t.deleted_at IS NULL AND t.assigned_to_id IS NOT NULL \
                 UNION ALL \
                 SELECT t.id, 'REMIND', t.remind_at FROM tasks t \
                 WHERE t.status IN ('TODO', 'IN_PROGRESS') \
                   AND t.remind_at <= $1 AND t.remind_at > $2 \
                   AND t.deleted_at IS NULL AND t.assigned_to_id IS NOT NULL \
             ) c \
             WHERE NOT EXISTS (SELECT 1 FROM task_reminders r \
                               WHERE r.task_id = c.id AND r.kind = c.kind AND r.at = c.at) \
             ORDER BY c.at LIMIT $3 \
             ON CONFLICT DO NOTHING \
             RETURNING task_id, kind, at",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(now - LOOKBACK)
        .bind::<BigInt, _>(BATCH)
        .load(conn)
        .await?;
        if fired.is_empty() {
            return Ok(0);
        }
        // RETURNING keeps no order: the events go out in the order their times came.
        fired.sort_by_key(|f| (f.at, f.task_id));
        let ids: Vec<TaskId> = fired.iter().map(|f| f.task_id).collect();
        let rows: Vec<TaskRow> = tasks::table
            .filter(tasks::id.eq_any(&ids))
            .select(TaskRow::as_select())
            .load(conn)
            .await?;
        let found: HashMap<TaskId, Task> = rows.into_iter().map(|r| (r.id, r.into())).collect();
        let events: Vec<NewEvent> = fired
            .iter()
            .filter_map(|f| {
                let task = found.get(&f.task_id)?;
                let assignee = task.assigned_to_id?;
                let name = match f.kind.as_str() {
                    "REMIND" => EventName::TaskReminder,
                    _ => EventName::TaskDue,
                };
                Some(NewEvent::new(
                    name,
                    vec![Room::User(assignee)],
                    crate::events::audience(None, task),
                    serde_json::to_value(task).unwrap_or_default(),
                ))
            })
            .collect();
        crm_events::append(conn, &Actor::system(), events).await?;
        Ok(fired.len())
    })
    .await
}

/// Forgets fired reminders older than the look-back (they can never fire again anyway).
pub async fn prune_reminders(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> Result<usize, TaskError> {
    Ok(diesel::delete(
        task_reminders::table.filter(task_reminders::at.lt(now - LOOKBACK - LOOKBACK)),
    )
    .execute(conn)
    .await?)
}
