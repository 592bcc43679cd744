//! Every task a list shows, in the list's order: what an export streams.

use crm_core::{Actor, Permission};
use crm_db::AsyncPgConnection;
use crm_db::schema::tasks;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::error::TaskError;
use crate::input::ListTasks;
use crate::model::{Task, TaskRow};

/// The tasks `input` lists (`tasks.read`, with its filters, visibility and sort; ties by id),
/// all of them, as a stream read as the caller consumes it. Paging parameters are ignored. The
/// stream holds `conn` until it ends: give it a connection of its own.
pub async fn export_tasks<'c>(
    conn: &'c mut AsyncPgConnection,
    actor: &Actor,
    input: &ListTasks,
) -> Result<BoxStream<'c, Result<Task, TaskError>>, TaskError> {
    actor.require(Permission::TasksRead)?;
    let query = crate::service::sorted(crate::service::filtered(actor, input), input)
        .then_order_by(tasks::id.asc())
        .select(TaskRow::as_select());
    let rows = query.load_stream::<TaskRow>(conn).await?;
    // Fused: the row stream of diesel-async must not be polled again once it has ended.
    Ok(rows
        .map_ok(Task::from)
        .map_err(TaskError::from)
        .fuse()
        .boxed())
}
