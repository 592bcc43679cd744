//! Tasks written by an import, a batch at a time and set-based: every row meets the rules of
//! `create_task` (validation, custom fields, links the actor may make, the assignee defaulting
//! to the actor, `completedAt` for a `DONE` task); rows that do not are reported with their
//! field errors, and the good ones are inserted with one statement and one statement of
//! timeline entries. A file names the deal by its number, the contact and the assignee by
//! e-mail.

use std::collections::HashMap;

use chrono::Utc;
use crm_core::{
    Actor, ContactId, DealId, EntityRef, FieldError, Permission, TaskId, UserId, checks,
};
use crm_custom_fields::{CustomFieldEntity, FieldSet, gather};
use crm_db::AsyncPgConnection;
use crm_db::schema::{deals, tasks};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::TaskError;
use crate::input::CreateTask;
use crate::model::{Task, TaskRow, TaskStatus};

/// One row of a tasks file, as a new task. `dealId` and `assignedToId` of `input` are not read:
/// the deal and the assignee come from the file's number and e-mail.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Line number in the file (header = 1).
    pub line: u64,
    /// The task's own fields.
    pub input: CreateTask,
    /// The deal by number (a live deal the actor may read).
    pub deal_number: Option<String>,
    /// The contact by e-mail (a live contact the actor may read).
    pub contact_email: Option<String>,
    /// The assignee by e-mail (an active user; default: the actor).
    pub assignee_email: Option<String>,
}

pub use crm_db::import_keys::BatchOutcome;

#[derive(Debug, Clone)]
struct TaskValues {
    input: CreateTask,
    tags: Vec<String>,
    deal: Option<DealId>,
    contact: Option<ContactId>,
    assignee: Option<UserId>,
    custom_fields: serde_json::Value,
}

fn given(cell: &Option<String>) -> Option<&str> {
    cell.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A deal number as a file writes it: `42`, `#42`, `№ 42`.
fn number_of(cell: &str) -> Option<i64> {
    cell.trim_start_matches(['#', '№'])
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
}

/// Imports `rows` as new tasks in the caller's transaction (`tasks.write`); `import` is named
/// by every task's timeline entry. With `dry_run` the checks run exactly as they would and
/// nothing but the import's own bookkeeping is written.
pub async fn import_batch(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    rows: Vec<ImportRow>,
    dry_run: bool,
) -> Result<BatchOutcome, TaskError> {
    actor.require(Permission::TasksWrite)?;
    let fields = FieldSet::for_write(conn, CustomFieldEntity::Task).await?;
    let numbers: Vec<i64> = rows
        .iter()
        .filter_map(|r| given(&r.deal_number).and_then(number_of))
        .collect();
    let deals = deals_by_number(conn, actor, numbers).await?;
    let contacts = crm_db::links::contacts_by_email(
        conn,
        actor,
        rows.iter().filter_map(|r| given(&r.contact_email)),
    )
    .await?;
    let users = crm_db::links::active_users_by_email(
        conn,
        rows.iter().filter_map(|r| given(&r.assignee_email)),
    )
    .await?;
    let mut outcome = BatchOutcome::default();
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        let mut input = row.input;
        input.title = input.title.trim().to_owned();
        let mut errors = checks::errors(&input);
        let deal = given(&row.deal_number).and_then(|cell| {
            let found = number_of(cell).and_then(|n| deals.get(&n).copied());
            if found.is_none() {
                errors.push(FieldError::new(
                    "dealNumber",
                    "no deal you may see has this number",
                ));
            }
            found
        });
        let contact = given(&row.contact_email).and_then(|email| {
            let found = contacts.get(&email.to_lowercase()).copied();
            if found.is_none() {
                errors.push(FieldError::new(
                    "contactEmail",
                    "no contact you may see has this e-mail",
                ));
            }
            found
        });
        let assignee = match given(&row.assignee_email) {
            Some(email) => {
                let found = users.get(&email.to_lowercase()).copied();
                if found.is_none() {
                    errors.push(FieldError::new(
                        "assigneeEmail",
                        "no active user has this e-mail (or this name or login)",
                    ));
                }
                found
            }
            None => actor.user_id,
        };
        let tags = match crm_core::tags::normalize_tags(&input.tags) {
            Ok(tags) => tags,
            Err(e) => {
                errors.push(e);
                Vec::new()
            }
        };
        let custom = gather(
            fields.validate_create(input.custom_fields.as_ref()),
            &mut errors,
        )?;
        if errors.is_empty() {
            valid.push((
                row.line,
                TaskValues {
                    input,
                    tags,
                    deal,
                    contact,
                    assignee,
                    custom_fields: custom,
                },
            ));
        } else {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            outcome.failures.push((row.line, errors));
        }
    }
    let (created, refused) =
        crm_db::import_keys::write_rows(conn, &Writer { actor, import }, valid, dry_run).await?;
    outcome.created = created;
    outcome.failures.extend(refused);
    Ok(outcome)
}

/// The live deals the actor may read with these numbers, share-locked for the transaction.
async fn deals_by_number(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    mut numbers: Vec<i64>,
) -> Result<HashMap<i64, DealId>, TaskError> {
    if numbers.is_empty() {
        return Ok(HashMap::new());
    }
    numbers.sort_unstable();
    numbers.dedup();
    let found: Vec<(i64, DealId)> = deals::table
        .filter(deals::number.eq_any(&numbers))
        .filter(deals::deleted_at.is_null())
        .filter(crm_db::visibility::deals(actor))
        .order(deals::id)
        .select((deals::number, deals::id))
        .for_share()
        .load(conn)
        .await?;
    Ok(found.into_iter().collect())
}

/// Rows per INSERT: 18 parameters each, below PostgreSQL's 65 535 per statement.
const ROWS_PER_STATEMENT: usize = 1000;

async fn insert(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    rows: Vec<(u64, TaskValues)>,
) -> Result<u64, TaskError> {
    if rows.is_empty() {
        return Ok(0);
    }
    crm_db::import_keys::register_tags(conn, rows.iter().flat_map(|(_, v)| &v.tags)).await?;
    let now = Utc::now();
    let values: Vec<_> = rows
        .into_iter()
        .map(|(_, v)| {
            let status = v.input.status.unwrap_or(TaskStatus::Todo);
            (
                (
                    tasks::id.eq(TaskId::new()),
                    tasks::title.eq(v.input.title),
                    tasks::description.eq(v.input.description),
                    tasks::status.eq(status.as_str()),
                    tasks::priority.eq(v.input.priority.map_or("MEDIUM", |p| p.as_str())),
                    tasks::kind.eq(v.input.kind.map_or("OTHER", |k| k.as_str())),
                    tasks::due_at.eq(v.input.due_at),
                    tasks::remind_at.eq(v.input.remind_at),
                ),
                (
                    tasks::completed_at.eq((status == TaskStatus::Done).then_some(now)),
                    tasks::deal_id.eq(v.deal),
                    tasks::contact_id.eq(v.contact),
                    tasks::assigned_to_id.eq(v.assignee),
                    tasks::created_by_id.eq(actor.user_id),
                    tasks::tags.eq(v.tags),
                    tasks::custom_fields.eq(v.custom_fields),
                    tasks::created_at.eq(now),
                    tasks::updated_at.eq(now),
                ),
            )
        })
        .collect();
    let mut written: Vec<Task> = Vec::with_capacity(values.len());
    for chunk in values.chunks(ROWS_PER_STATEMENT) {
        let inserted: Vec<TaskRow> = diesel::insert_into(tasks::table)
            .values(chunk)
            .returning(TaskRow::as_returning())
            .get_results(conn)
            .await?;
        written.extend(inserted.into_iter().map(Task::from));
    }
    let shown = written
        .iter()
        .map(|t| (EntityRef::of(t.id), t.change_view()));
    crm_activity::record_imported(conn, actor, import, "task.created", shown).await?;
    Ok(written.len() as u64)
}

/// Inserts an import's checked rows for [`crm_db::import_keys::write_rows`].
struct Writer<'a> {
    actor: &'a Actor,
    import: Uuid,
}

impl crm_db::import_keys::BatchWriter for Writer<'_> {
    type Row = TaskValues;
    type Error = TaskError;

    async fn insert(
        &self,
        conn: &mut AsyncPgConnection,
        rows: Vec<(u64, TaskValues)>,
    ) -> Result<u64, TaskError> {
        insert(conn, self.actor, self.import, rows).await
    }
}
