//! `/api/tasks`: tasks with filters, trash, restore and batch writes.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use crm_core::{Cursor, FieldError, PageRequest, SortDirection};
use crm_custom_fields::{CustomFieldEntity, FieldSet, parse_sort};
use crm_tasks::{
    CreateTask, ListTasks, Task, TaskPriority, TaskSort, TaskStatus, TaskType, UpdateTask,
};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::batch::{BatchItemResult, BatchRequest, parse, run_batch};
use crate::body::Json;
use crate::envelope::{Data, Paged, created, cursor_list, list, ok_versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::ListQuery;
use crate::problem::{ApiError, Problem};
use crate::routes::companies::custom_filters;
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(batch_tasks)
        .service(get_task)
        .service(update_task)
        .service(delete_task)
        .service(restore_task);
}

/// Query of `GET /api/tasks`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTasksQuery {
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Comma list of `createdAt`, `updatedAt`, `dueAt`, `priority` (`-priority`: `URGENT`
    /// first), `title`; `-` for descending. Default `createdAt`. Not with `cursor`.
    pub sort: Option<String>,
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
    pub assigned_to_id: Option<Uuid>,
    /// Only tasks of this deal.
    pub deal_id: Option<Uuid>,
    /// Only tasks of this contact.
    pub contact_id: Option<Uuid>,
    /// `true`: only overdue tasks (due in the past, still open); `false`: only the others.
    pub overdue: Option<bool>,
    /// Due at or after (RFC 3339).
    pub due_from: Option<DateTime<Utc>>,
    /// Due at or before (RFC 3339).
    pub due_to: Option<DateTime<Utc>>,
    /// Only tasks carrying this tag (case-insensitive).
    pub tag: Option<String>,
    /// Only tasks changed at or after (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// `true`: the trash only.
    pub deleted: Option<bool>,
    /// Keyset paging on `(createdAt, id)`: empty for the first page, then `meta.nextCursor`.
    pub cursor: Option<String>,
}

impl ListTasksQuery {
    fn into_input(
        self,
        fields: Option<&FieldSet>,
        cf: &[(String, String)],
    ) -> Result<ListTasks, ApiError> {
        let invalid = |e: FieldError| ApiError::invalid(vec![e]);
        let page = PageRequest::new(self.page, self.limit).map_err(invalid)?;
        if self.cursor.is_some() && self.sort.is_some() {
            return Err(invalid(FieldError::new(
                "sort",
                "cannot be combined with cursor",
            )));
        }
        let mut custom_fields = custom_filters(fields, cf)?;
        let sort = parse_sort(
            self.sort.as_deref(),
            TaskSort::ALLOWED,
            vec![(TaskSort::CreatedAt, SortDirection::Asc)],
            fields,
            TaskSort::CustomField,
            &mut custom_fields,
        )
        .map_err(invalid)?;
        let cursor = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(raw) => Some(Cursor::decode(raw).map_err(invalid)?),
            None => None,
        };
        let status = match self.status.as_deref() {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(|s| {
                    s.trim().parse::<TaskStatus>().map_err(|_| {
                        invalid(FieldError::new(
                            "status",
                            "must be TODO, IN_PROGRESS, DONE or CANCELLED (comma-separated)",
                        ))
                    })
                })
                .try_fold(Vec::new(), |mut seen: Vec<TaskStatus>, s| {
                    let s = s?;
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                    Ok::<_, ApiError>(seen)
                })?,
        };
        Ok(ListTasks {
            page,
            sort,
            cursor,
            q: self.q,
            status,
            priority: self.priority,
            kind: self.kind,
            assigned_to_id: self.assigned_to_id,
            deal_id: self.deal_id,
            contact_id: self.contact_id,
            overdue: self.overdue,
            due_from: self.due_from,
            due_to: self.due_to,
            tag: self.tag,
            updated_since: self.updated_since,
            deleted: self.deleted.unwrap_or(false),
            custom_fields,
        })
    }
}

/// Query of `DELETE /api/tasks/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteTaskQuery {
    /// `true`: remove for good, with its comments (admins only).
    pub permanent: Option<bool>,
}

/// Lists the tasks the actor may see (`tasks.read`; all with `tasks.read_all`, otherwise those
/// they created or are assigned to). With `cursor` the answer is keyset-paged (`meta.nextCursor`).
///
/// Custom fields: `cf.<key>=value` (repeat for any of several; MULTI_SELECT: has the option),
/// `cf.<key>.gte|gt|lte|lt=value` (NUMBER, DATE, DATETIME), `cf.<key>.exists=true|false`, and
/// `sort=cf.<key>` / `-cf.<key>`. An unknown or inactive key is a 400 naming the parameter.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(ListTasksQuery), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Task>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
))]
#[get("/tasks")]
async fn list_tasks(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<ListTasksQuery>,
) -> Result<HttpResponse, ApiError> {
    let cursor_mode = query.params.cursor.is_some();
    let mut conn = state.conn().await?;
    let fields = query
        .fields(
            &mut conn,
            CustomFieldEntity::Task,
            query.params.sort.as_deref(),
        )
        .await?;
    let input = query.params.into_input(fields.as_ref(), &query.cf)?;
    if cursor_mode {
        let page: crm_core::CursorPage<Task> =
            crm_tasks::list_tasks_cursor(&mut conn, &actor.0, &input).await?;
        return Ok(cursor_list(page));
    }
    Ok(list(
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
    run_batch(body.into_inner(), |item| {
        let state = state.clone();
        let actor = actor.0.clone();
        async move {
            let mut conn = state.conn().await?;
            let (status, task) = match item.id {
                Some(id) => {
                    let input: UpdateTask = parse(item.body)?;
                    let task =
                        crm_tasks::update_task(&mut conn, &actor, id, input, item.version).await?;
                    (200, task)
                }
                None => {
                    let input: CreateTask = parse(item.body)?;
                    (201, crm_tasks::create_task(&mut conn, &actor, input).await?)
                }
            };
            let value = serde_json::to_value(task).map_err(|_| {
                ApiError::from_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
            })?;
            Ok((status, value))
        }
    })
    .await
}

/// Reads a task (`tasks.read` and the right to see it; trashed tasks are 404).
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Task>, headers(("ETag" = String))),
))]
#[get("/tasks/{id}")]
async fn get_task(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let task = crm_tasks::get_task(&mut conn, &actor.0, *id).await?;
    let version = task.version;
    Ok(ok_versioned(task, version))
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
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateTask>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let task =
        crm_tasks::update_task(&mut conn, &actor.0, *id, body.into_inner(), if_match.0).await?;
    let version = task.version;
    Ok(ok_versioned(task, version))
}

/// Moves a task to the trash (`tasks.delete`); `permanent=true` removes it for good (admins).
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), DeleteTaskQuery), security(("bearer" = [])), responses(
    (status = 204, description = "Trashed or deleted"),
))]
#[delete("/tasks/{id}")]
async fn delete_task(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    query: web::Query<DeleteTaskQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let permanent = query.permanent.unwrap_or(false);
    crm_tasks::delete_task(&mut conn, &actor.0, *id, permanent, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
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
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let task = crm_tasks::restore_task(&mut conn, &actor.0, *id).await?;
    let version = task.version;
    Ok(ok_versioned(task, version))
}
