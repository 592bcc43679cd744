//! Task use cases. Each takes the connection first (so callers compose them in one
//! transaction), then the actor, then the input.

use chrono::{DateTime, Utc};
use crm_core::tags::normalize_tags;
use crm_core::{
    Actor, ContactId, DealId, EntityKind, EntityRef, FieldError, Listing, Permission, Role,
    SortDirection, TaskId, UserId, change,
};
use crm_custom_fields::{CustomFieldEntity, FieldSet};
use crm_db::AsyncPgConnection;
use crm_db::schema::{comments, tasks};
use crm_db::{links, visibility};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Integer;
use diesel_async::{AsyncConnection, RunQueryDsl};
use garde::Validate;

use crate::error::TaskError;
use crate::input::{CreateTask, ListTasks, TaskSort, UpdateTask};
use crate::model::{Task, TaskRow, TaskStatus};

type Boxed = tasks::BoxedQuery<'static, Pg>;

const OPEN_STATUSES: [&str; 2] = ["TODO", "IN_PROGRESS"];
const PRIORITY_RANK: &str =
    "CASE tasks.priority WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'HIGH' THEN 3 ELSE 4 END";

fn validate(input: &impl Validate<Context = ()>) -> Result<(), TaskError> {
    input
        .validate()
        .map_err(|report| TaskError::Invalid(FieldError::from_garde(&report)))
}

/// `%`, `_` and `\` of a search fragment are literal.
fn like_pattern(q: &str) -> String {
    format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// Tasks the actor may see (without the trash condition).
fn visible(actor: &Actor) -> Boxed {
    tasks::table.into_boxed().filter(visibility::tasks(actor))
}

/// Whether the actor may see this task (the same rule as [`visible`]).
fn can_see(actor: &Actor, row: &TaskRow) -> bool {
    visibility::Reach::of(actor, Permission::TasksReadAll)
        .covers(&[row.created_by_id, row.assigned_to_id])
}

/// A visible task that is (`trashed`) or is not in the trash, locked for the transaction.
async fn load(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TaskId,
    trashed: bool,
) -> Result<TaskRow, TaskError> {
    tasks::table
        .find(id)
        .select(TaskRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .filter(|row| row.deleted_at.is_some() == trashed && can_see(actor, row))
        .ok_or(TaskError::NotFound(id))
}

/// A link removed between the check and the write violates its foreign key: the same 422.
fn map_fk(
    e: diesel::result::Error,
    deal: Option<DealId>,
    contact: Option<ContactId>,
    user: Option<UserId>,
) -> TaskError {
    use crm_db::constraint::is_foreign_key_violation as fk;
    if fk(&e, "tasks_deal_id_fkey") {
        TaskError::UnknownDeal(deal.unwrap_or(DealId::NIL))
    } else if fk(&e, "tasks_contact_id_fkey") {
        TaskError::UnknownContact(contact.unwrap_or(ContactId::NIL))
    } else if fk(&e, "tasks_assigned_to_id_fkey") {
        TaskError::UnknownUser(user.unwrap_or(UserId::NIL))
    } else {
        e.into()
    }
}

/// The deal, contact and assignee a task is to link to, each that is given: a live deal and
/// contact the actor may read, an active user (`crm_db::links`).
async fn check_links(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    deal: Option<DealId>,
    contact: Option<ContactId>,
    assignee: Option<UserId>,
) -> Result<(), TaskError> {
    if let Some(deal) = deal {
        links::require(conn, actor, deal, TaskError::UnknownDeal).await?;
    }
    if let Some(contact) = contact {
        links::require(conn, actor, contact, TaskError::UnknownContact).await?;
    }
    if let Some(user) = assignee {
        links::require_active_user(conn, user, TaskError::UnknownUser).await?;
    }
    Ok(())
}

/// Creates a task (`tasks.write`). The assignee defaults to the acting user; a `DONE` task
/// gets `completedAt`.
pub async fn create_task(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    mut input: CreateTask,
) -> Result<Task, TaskError> {
    actor.require(Permission::TasksWrite)?;
    input.title = input.title.trim().to_owned();
    validate(&input)?;
    let tags = normalize_tags(&input.tags)?;
    let assigned_to = input.assigned_to_id.or(actor.user_id);
    let status = input.status.unwrap_or(TaskStatus::Todo);
    conn.transaction(async |conn| {
        let custom_fields = FieldSet::for_write(conn, CustomFieldEntity::Task)
            .await?
            .validate_create(input.custom_fields.as_ref())?;
        check_links(
            conn,
            actor,
            input.deal_id,
            input.contact_id,
            input.assigned_to_id,
        )
        .await?;
        crm_db::tags::ensure_registered(conn, &tags).await?;
        let now = Utc::now();
        let row: TaskRow = diesel::insert_into(tasks::table)
            .values((
                tasks::id.eq(TaskId::new()),
                tasks::title.eq(&input.title),
                tasks::description.eq(&input.description),
                tasks::status.eq(status.as_str()),
                tasks::priority.eq(input.priority.unwrap_or_default_priority()),
                tasks::kind.eq(input.kind.map_or("OTHER", |k| k.as_str())),
                tasks::due_at.eq(input.due_at),
                tasks::remind_at.eq(input.remind_at),
                tasks::completed_at.eq((status == TaskStatus::Done).then_some(now)),
                tasks::deal_id.eq(input.deal_id),
                tasks::contact_id.eq(input.contact_id),
                tasks::assigned_to_id.eq(assigned_to),
                tasks::created_by_id.eq(actor.user_id),
                tasks::tags.eq(&tags),
                tasks::custom_fields.eq(&custom_fields),
                tasks::created_at.eq(now),
                tasks::updated_at.eq(now),
            ))
            .returning(TaskRow::as_returning())
            .get_result(conn)
            .await
            .map_err(|e| map_fk(e, input.deal_id, input.contact_id, assigned_to))?;
        let task = Task::from(row);
        crm_activity::record(
            conn,
            actor,
            EntityRef::new(EntityKind::Task, task.id),
            "task.created",
            &change::created(&task.change_view()),
        )
        .await?;
        crate::events::created(conn, actor, &task).await?;
        Ok(task)
    })
    .await
}

trait DefaultPriority {
    fn unwrap_or_default_priority(self) -> &'static str;
}

impl DefaultPriority for Option<crate::model::TaskPriority> {
    fn unwrap_or_default_priority(self) -> &'static str {
        self.map_or("MEDIUM", |p| p.as_str())
    }
}

/// Reads a task the actor may see (`tasks.read`); trashed tasks are not found.
pub async fn get_task(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TaskId,
) -> Result<Task, TaskError> {
    actor.require(Permission::TasksRead)?;
    visible(actor)
        .filter(tasks::id.eq(id))
        .filter(tasks::deleted_at.is_null())
        .select(TaskRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Task::from)
        .ok_or(TaskError::NotFound(id))
}

/// Changes a task (`tasks.write`). `expected_version` (from `If-Match`) must match.
pub async fn update_task(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TaskId,
    mut input: UpdateTask,
    expected_version: Option<i32>,
) -> Result<Task, TaskError> {
    actor.require(Permission::TasksWrite)?;
    input.title = input.title.map(|t| t.trim().to_owned());
    validate(&input)?;
    let tags = input.tags.as_deref().map(normalize_tags).transpose()?;
    conn.transaction(async |conn| {
        // Before the task row is locked (see crm_custom_fields::FieldSet::for_write).
        let fields = match &input.custom_fields {
            Some(_) => Some(FieldSet::for_write(conn, CustomFieldEntity::Task).await?),
            None => None,
        };
        let row = load(conn, actor, id, false).await?;
        crm_core::check_version(expected_version, row.version)?;
        let custom_fields = match (&fields, &input.custom_fields) {
            (Some(fields), Some(patch)) => fields.validate_update(&row.custom_fields, patch)?,
            _ => row.custom_fields.clone(),
        };
        let before = Task::from(row.clone());
        let (deal, contact) = (input.deal_id.flatten(), input.contact_id.flatten());
        check_links(conn, actor, deal, contact, input.assigned_to_id.flatten()).await?;
        if let Some(tags) = &tags {
            crm_db::tags::ensure_registered(conn, tags).await?;
        }
        let now = Utc::now();
        let status = input.status.unwrap_or(before.status);
        let completed_at = match (before.status, status) {
            (TaskStatus::Done, TaskStatus::Done) => row.completed_at,
            (_, TaskStatus::Done) => Some(now),
            _ => None,
        };
        let updated: TaskRow = diesel::update(tasks::table.find(id))
            .set((
                tasks::title.eq(input.title.clone().unwrap_or(row.title)),
                tasks::description.eq(input.description.clone().unwrap_or(row.description)),
                tasks::status.eq(status.as_str()),
                tasks::priority.eq(input.priority.unwrap_or(before.priority).as_str()),
                tasks::kind.eq(input.kind.unwrap_or(before.kind).as_str()),
                tasks::due_at.eq(input.due_at.unwrap_or(row.due_at)),
                tasks::remind_at.eq(input.remind_at.unwrap_or(row.remind_at)),
                tasks::completed_at.eq(completed_at),
                tasks::deal_id.eq(input.deal_id.unwrap_or(row.deal_id)),
                tasks::contact_id.eq(input.contact_id.unwrap_or(row.contact_id)),
                tasks::assigned_to_id.eq(input.assigned_to_id.unwrap_or(row.assigned_to_id)),
                tasks::tags.eq(tags.clone().unwrap_or(row.tags)),
                tasks::custom_fields.eq(custom_fields),
                tasks::updated_at.eq(now),
                tasks::version.eq(tasks::version + 1),
            ))
            .returning(TaskRow::as_returning())
            .get_result(conn)
            .await
            .map_err(|e| {
                map_fk(
                    e,
                    input.deal_id.flatten(),
                    input.contact_id.flatten(),
                    input.assigned_to_id.flatten(),
                )
            })?;
        let after = Task::from(updated);
        let changes = change::diff(&before.change_view(), &after.change_view());
        crm_activity::record(
            conn,
            actor,
            EntityRef::new(EntityKind::Task, id),
            "task.updated",
            &changes,
        )
        .await?;
        crate::events::updated(conn, actor, Some(&before), &after).await?;
        Ok(after)
    })
    .await
}

/// Moves a task to the trash (`tasks.delete`), or with `permanent` removes it and its
/// comments for good (admins only, trashed or not).
pub async fn delete_task(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TaskId,
    permanent: bool,
    expected_version: Option<i32>,
) -> Result<(), TaskError> {
    actor.require(Permission::TasksDelete)?;
    if permanent && actor.role != Role::Admin {
        return Err(TaskError::NotAdmin);
    }
    conn.transaction(async |conn| {
        let row = if permanent {
            match load(conn, actor, id, false).await {
                Err(TaskError::NotFound(_)) => load(conn, actor, id, true).await?,
                other => other?,
            }
        } else {
            load(conn, actor, id, false).await?
        };
        crm_core::check_version(expected_version, row.version)?;
        let task = EntityRef::new(EntityKind::Task, id);
        if permanent {
            diesel::delete(
                comments::table
                    .filter(comments::entity_type.eq(EntityKind::Task.as_str()))
                    .filter(comments::entity_id.eq(id)),
            )
            .execute(conn)
            .await?;
            diesel::delete(tasks::table.find(id)).execute(conn).await?;
            crm_activity::record_purged(conn, actor, task).await?;
        } else {
            let now = Utc::now();
            diesel::update(tasks::table.find(id))
                .set((
                    tasks::deleted_at.eq(Some(now)),
                    tasks::updated_at.eq(now),
                    tasks::version.eq(tasks::version + 1),
                ))
                .execute(conn)
                .await?;
            crm_activity::record_trashed(conn, actor, task, now).await?;
        }
        crate::events::deleted(conn, actor, Task::from(row), permanent).await?;
        Ok(())
    })
    .await
}

/// Takes a task out of the trash (`tasks.delete`); a task not in the trash is not found.
pub async fn restore_task(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TaskId,
) -> Result<Task, TaskError> {
    actor.require(Permission::TasksDelete)?;
    conn.transaction(async |conn| {
        let trashed = load(conn, actor, id, true).await?;
        let row: TaskRow = diesel::update(tasks::table.find(id))
            .set((
                tasks::deleted_at.eq(None::<DateTime<Utc>>),
                tasks::updated_at.eq(Utc::now()),
                tasks::version.eq(tasks::version + 1),
            ))
            .returning(TaskRow::as_returning())
            .get_result(conn)
            .await?;
        let task = EntityRef::new(EntityKind::Task, id);
        crm_activity::record_restored(conn, actor, task, trashed.deleted_at, &[]).await?;
        crate::events::updated(conn, actor, None, &Task::from(row.clone())).await?;
        Ok(Task::from(row))
    })
    .await
}

/// Removes for good every task trashed before `older_than`, with its comments.
pub async fn purge_trash(
    conn: &mut AsyncPgConnection,
    older_than: DateTime<Utc>,
) -> Result<usize, TaskError> {
    conn.transaction(async |conn| {
        let ids: Vec<TaskId> =
            diesel::delete(tasks::table.filter(tasks::deleted_at.lt(older_than)))
                .returning(tasks::id)
                .get_results(conn)
                .await?;
        diesel::delete(
            comments::table
                .filter(comments::entity_type.eq(EntityKind::Task.as_str()))
                .filter(comments::entity_id.eq_any(&ids)),
        )
        .execute(conn)
        .await?;
        Ok(ids.len())
    })
    .await
}

pub(crate) fn filtered(actor: &Actor, input: &ListTasks) -> Boxed {
    let mut query = visible(actor);
    query = if input.deleted {
        query.filter(tasks::deleted_at.is_not_null())
    } else {
        query.filter(tasks::deleted_at.is_null())
    };
    if let Some(q) = input.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(tasks::title.ilike(like_pattern(q)));
    }
    if !input.status.is_empty() {
        let names: Vec<&'static str> = input.status.iter().map(|s| s.as_str()).collect();
        query = query.filter(tasks::status.eq_any(names));
    }
    if let Some(p) = input.priority {
        query = query.filter(tasks::priority.eq(p.as_str()));
    }
    if let Some(k) = input.kind {
        query = query.filter(tasks::kind.eq(k.as_str()));
    }
    if let Some(u) = input.assigned_to_id {
        query = query.filter(tasks::assigned_to_id.eq(u));
    }
    if let Some(d) = input.deal_id {
        query = query.filter(tasks::deal_id.eq(d));
    }
    if let Some(c) = input.contact_id {
        query = query.filter(tasks::contact_id.eq(c));
    }
    if let Some(overdue) = input.overdue {
        let now = Utc::now();
        let is_overdue = tasks::due_at
            .is_not_null()
            .and(tasks::due_at.assume_not_null().lt(now))
            .and(tasks::status.eq_any(OPEN_STATUSES));
        query = if overdue {
            query.filter(is_overdue)
        } else {
            query.filter(diesel::dsl::not(is_overdue))
        };
    }
    if let Some(from) = input.due_from {
        query = query.filter(tasks::due_at.ge(from));
    }
    if let Some(to) = input.due_to {
        query = query.filter(tasks::due_at.le(to));
    }
    if let Some(tag) = input
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        query = query.filter(crm_db::tags::carries_tag("tasks", tag));
    }
    if let Some(since) = input.updated_since {
        query = query.filter(tasks::updated_at.ge(since));
    }
    for condition in input.custom_fields.conditions("tasks") {
        query = query.filter(condition);
    }
    query
}

/// Lists the tasks the actor may see (`tasks.read`), offset-paged, with filters and sorting.
pub async fn list_tasks(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &ListTasks,
) -> Result<Listing<Task>, TaskError> {
    actor.require(Permission::TasksRead)?;
    let listing: Listing<TaskRow> = crm_db::load_listing!(
        conn,
        tasks,
        TaskRow,
        &input.page,
        input.cursor,
        filtered(actor, input),
        |query| sorted(query, input),
    );
    Ok(listing.map(Task::from))
}

/// `query` in the order of `input.sort` (ties: see [`crm_db::load_listing`]).
pub(crate) fn sorted(
    mut query: tasks::BoxedQuery<'static, diesel::pg::Pg>,
    input: &ListTasks,
) -> tasks::BoxedQuery<'static, diesel::pg::Pg> {
    for &(field, dir) in &input.sort.keys {
        let desc = dir == SortDirection::Desc;
        query = match (field, desc) {
            (TaskSort::CreatedAt, false) => query.then_order_by(tasks::created_at.asc()),
            (TaskSort::CreatedAt, true) => query.then_order_by(tasks::created_at.desc()),
            (TaskSort::UpdatedAt, false) => query.then_order_by(tasks::updated_at.asc()),
            (TaskSort::UpdatedAt, true) => query.then_order_by(tasks::updated_at.desc()),
            (TaskSort::DueAt, false) => query.then_order_by(tasks::due_at.asc().nulls_last()),
            (TaskSort::DueAt, true) => query.then_order_by(tasks::due_at.desc().nulls_last()),
            (TaskSort::Priority, false) => query.then_order_by(sql::<Integer>(PRIORITY_RANK).asc()),
            (TaskSort::Priority, true) => query.then_order_by(sql::<Integer>(PRIORITY_RANK).desc()),
            (TaskSort::Title, false) => query.then_order_by(tasks::title.asc()),
            (TaskSort::Title, true) => query.then_order_by(tasks::title.desc()),
            (TaskSort::CustomField(i), _) => {
                query.then_order_by(input.custom_fields.order_by("tasks", i, dir))
            }
        };
    }
    query
}
