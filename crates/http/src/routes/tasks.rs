//! `/api/tasks`: tasks with filters, trash, restore and batch writes.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use crm_core::{ContactId, DealId, FieldError, TaskId, UserId};
use crm_custom_fields::CustomFieldEntity;
use crm_db::AsyncPgConnection;
use crm_tasks::{
    CreateTask, ListTasks, Task, TaskPriority, TaskSort, TaskStatus, TaskType, UpdateTask,
};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::batch::{BatchItemResult, BatchRequest, create_or_update};
use crate::body::Json;
use crate::envelope::{Data, Paged, created, listing, versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::trash::{self, DeleteQuery};

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(batch_tasks)
        .service(get_task)
        .service(update_task)
        .service(delete_task)
        .service(restore_task);
}

/// The filters of `GET /api/tasks`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskFilters {
    /// Fragment of the title (case-insensitive).
    pub q: Option<String>,
    /// One status or a comma list (`TODO,IN_PROGRESS`).
    pub status: Option<String>,
    /// Only this priority.
    pub priority: Option<TaskPriority>,
    /// Only this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<TaskType>,
    /// Only tasks assigned to this user.
    pub assigned_to_id: Option<UserId>,
    /// Only tasks of this deal.
    pub deal_id: Option<DealId>,
    /// Only tasks of this contact.
    pub contact_id: Option<ContactId>,
    /// `true`: only overdue tasks (due in the past, still open); `false`: only the others.
    pub overdue: Option<bool>,
    /// Due at or after (RFC 3339).
    pub due_from: Option<DateTime<Utc>>,
    /// Due at or before (RFC 3339).
    pub due_to: Option<DateTime<Utc>>,
    /// Only tasks carrying this tag (case-insensitive).
    pub tag: Option<String>,
}

impl ListFilters for TaskFilters {
    const SPEC: ListSpec = ListSpec::records(
        CustomFieldEntity::Task,
        "Comma list of `createdAt`, `updatedAt`, `dueAt`, `priority` (`-priority`: `URGENT` \
         first), `title`; `-` for descending. Default `createdAt`.",
    );
}

/// `status`: one or a comma list, each named once.
fn statuses(raw: Option<&str>) -> Result<Vec<TaskStatus>, ApiError> {
    let mut seen = Vec::new();
    for s in raw.into_iter().flat_map(|raw| raw.split(',')) {
        let status = s.trim().parse::<TaskStatus>().map_err(|_| {
            ApiError::invalid(vec![FieldError::new(
                "status",
                "must be TODO, IN_PROGRESS, DONE or CANCELLED (comma-separated)",
            )])
        })?;
        if !seen.contains(&status) {
            seen.push(status);
        }
    }
    Ok(seen)
}

/// The list's input from its query (shared by the list and the export).
pub(crate) async fn list_input(
    conn: &mut AsyncPgConnection,
    query: ListQuery<TaskFilters>,
) -> Result<ListTasks, ApiError> {
    let (sort, custom_fields) = query
        .sort_and_filters(
            conn,
            TaskSort::ALLOWED,
            TaskSort::CreatedAt,
            TaskSort::CustomField,
        )
        .await?;
    let (shared, f) = (query.list, query.filters);
    Ok(ListTasks {
        page: shared.page,
        sort,
        cursor: shared.cursor,
        q: f.q,
        status: statuses(f.status.as_deref())?,
        priority: f.priority,
        kind: f.kind,
        assigned_to_id: f.assigned_to_id,
        deal_id: f.deal_id,
        contact_id: f.contact_id,
        overdue: f.overdue,
        due_from: f.due_from,
        due_to: f.due_to,
        tag: f.tag,
        updated_since: shared.updated_since,
        deleted: shared.deleted,
        custom_fields,
    })
}

/// Lists the tasks the actor may see (`tasks.read`; all with `tasks.read_all`, otherwise those
/// they created or are assigned to). With `cursor` the answer is keyset-paged (`meta.nextCursor`).
///
/// Custom fields: `cf.<key>=value` (repeat for any of several; MULTI_SELECT: has the option),
/// `cf.<key>.gte|gt|lte|lt=value` (NUMBER, DATE, DATETIME), `cf.<key>.exists=true|false`, and
/// `sort=cf.<key>` / `-cf.<key>`. An unknown or inactive key is a 400 naming the parameter.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(ListQuery<TaskFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Task>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
))]
#[get("/tasks")]
async fn list_tasks(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<TaskFilters>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let input = list_input(&mut conn, query).await?;
    Ok(listing(
        crm_tasks::list_tasks(&mut conn, &actor.0, &input).await?,
    ))
}

/// Creates a task (`tasks.write`). The assignee defaults to the acting user.
#[utoipa::path(post, path = "/tasks", tag = "tasks", request_body = CreateTask, security(("bearer" = [])), responses(
    (status = 201, body = Data<Task>, headers(("Location" = String), ("ETag" = String))),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_deal`, `unknown_contact` or `unknown_user`"),
))]
#[post("/tasks")]
async fn create_task(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateTask>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let task = crm_tasks::create_task(&mut conn, &actor.0, body.into_inner()).await?;
    let (location, version) = (format!("/api/tasks/{}", task.id), task.version);
    Ok(created(location, task, Some(version)))
}

/// Creates (no `id`) or updates (with `id`, optional `version` as If-Match) up to 100 tasks,
/// each in its own transaction; the answer holds one result per item.
#[utoipa::path(post, path = "/tasks/batch", tag = "tasks", request_body = BatchRequest, security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<BatchItemResult>>),
))]
#[post("/tasks/batch")]
async fn batch_tasks(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let (create, update) = (crm_tasks::create_task, crm_tasks::update_task);
    create_or_update(&state, &actor.0, body.into_inner(), create, update).await
}

/// Reads a task (`tasks.read` and the right to see it; trashed tasks are 404).
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Task>, headers(("ETag" = String))),
))]
#[get("/tasks/{id}")]
async fn get_task(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TaskId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let task = crm_tasks::get_task(&mut conn, &actor.0, *id).await?;
    Ok(versioned(task))
}

/// Changes a task (`tasks.write`). Entering `DONE` sets `completedAt`, leaving it clears it.
#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateTask, security(("bearer" = [])), responses(
    (status = 200, body = Data<Task>, headers(("ETag" = String))),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_deal`, `unknown_contact` or `unknown_user`"),
))]
#[patch("/tasks/{id}")]
async fn update_task(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TaskId>,
    if_match: IfMatch,
    body: Json<UpdateTask>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let task =
        crm_tasks::update_task(&mut conn, &actor.0, *id, body.into_inner(), if_match.0).await?;
    Ok(versioned(task))
}

/// Moves a task to the trash (`tasks.delete`); `permanent=true` removes it for good (admins).
///
/// Deleting for good also removes the task's comments.
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), DeleteQuery), security(("bearer" = [])), responses(
    (status = 204, description = "Trashed or deleted"),
))]
#[delete("/tasks/{id}")]
async fn delete_task(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TaskId>,
    query: web::Query<DeleteQuery>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    trash::delete(
        &state,
        &actor.0,
        *id,
        query.into_inner(),
        if_match,
        crm_tasks::delete_task,
    )
    .await
}

/// Takes a task out of the trash (`tasks.delete`).
#[utoipa::path(post, path = "/tasks/{id}/restore", tag = "tasks", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Task>, headers(("ETag" = String))),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "No such task in the trash"),
))]
#[post("/tasks/{id}/restore")]
async fn restore_task(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<TaskId>,
) -> Result<HttpResponse, ApiError> {
    trash::restore(&state, &actor.0, *id, crm_tasks::restore_task).await
}
