//! The columns of an export and each record's cells: the import's field names as headers (what
//! the import maps back), linked records by name, custom fields by key, then `id`,
//! `createdAt`, `updatedAt` (which an import skips).

use crm_companies::Company;
use crm_contacts::Contact;
use crm_custom_fields::CustomField;
use crm_deals::Deal;
use crm_tasks::Task;
use serde_json::Value;

use crate::lookup::Names;

const SOCIAL: [&str; 7] = [
    "telegram",
    "whatsapp",
    "vk",
    "instagram",
    "linkedin",
    "facebook",
    "website",
];

/// The header row: `fields`, then the custom fields' keys and the record's bookkeeping.
fn headers(fields: impl IntoIterator<Item = String>, custom: &[CustomField]) -> Vec<String> {
    let mut headers: Vec<String> = fields.into_iter().collect();
    headers.extend(custom.iter().map(|f| f.key.clone()));
    headers.extend(["id", "createdAt", "updatedAt"].map(str::to_owned));
    headers
}

fn owned(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| (*f).to_owned()).collect()
}

/// The header row of a contacts export.
pub fn contact_headers(custom: &[CustomField]) -> Vec<String> {
    let mut fields = owned(&[
        "fullName",
        "email",
        "phone",
        "position",
        "companyName",
        "tags",
        "notes",
    ]);
    fields.extend(SOCIAL.iter().map(|n| format!("social.{n}")));
    fields.push("ownerEmail".into());
    headers(fields, custom)
}

/// The header row of a companies export.
pub fn company_headers(custom: &[CustomField]) -> Vec<String> {
    let fields = owned(&[
        "name",
        "website",
        "industry",
        "email",
        "phone",
        "address",
        "employees",
        "tags",
        "notes",
        "ownerEmail",
    ]);
    headers(fields, custom)
}

/// The header row of a deals export.
pub fn deal_headers(custom: &[CustomField]) -> Vec<String> {
    let fields = owned(&[
        "number",
        "title",
        "amount",
        "currency",
        "pipeline",
        "stage",
        "status",
        "contactEmail",
        "contactPhone",
        "companyName",
        "assigneeEmail",
        "expectedCloseAt",
        "closedAt",
        "lostReason",
        "description",
        "tags",
    ]);
    headers(fields, custom)
}

/// The header row of a tasks export.
pub fn task_headers(custom: &[CustomField]) -> Vec<String> {
    let fields = owned(&[
        "title",
        "description",
        "status",
        "priority",
        "type",
        "dueAt",
        "completedAt",
        "dealNumber",
        "contactEmail",
        "assigneeEmail",
        "tags",
    ]);
    headers(fields, custom)
}

/// A custom-field value as a cell: lists comma-separated, text as it is.
fn cell_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn time(t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// Custom fields and bookkeeping, after a record's own cells.
fn finish(
    mut cells: Vec<String>,
    values: &Value,
    custom: &[CustomField],
    id: String,
    created: chrono::DateTime<chrono::Utc>,
    updated: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    cells.extend(custom.iter().map(|f| cell_of(&values[&f.key])));
    cells.extend([id, created.to_rfc3339(), updated.to_rfc3339()]);
    cells
}

/// One contact's cells, in the order of [`contact_headers`].
pub fn contact_cells(c: &Contact, names: &Names, custom: &[CustomField]) -> Vec<String> {
    let social = serde_json::to_value(&c.social).unwrap_or_default();
    let mut cells = vec![
        c.full_name.clone(),
        text(&c.email),
        text(&c.phone),
        text(&c.position),
        names.company(c.company_id),
        c.tags.join(", "),
        text(&c.notes),
    ];
    cells.extend(SOCIAL.iter().map(|n| cell_of(&social[*n])));
    cells.push(names.user(c.owner_id));
    let id = c.id.to_string();
    finish(
        cells,
        &c.custom_fields,
        custom,
        id,
        c.created_at,
        c.updated_at,
    )
}

/// One company's cells, in the order of [`company_headers`].
pub fn company_cells(c: &Company, names: &Names, custom: &[CustomField]) -> Vec<String> {
    let cells = vec![
        c.name.clone(),
        text(&c.website),
        text(&c.industry),
        text(&c.email),
        text(&c.phone),
        text(&c.address),
        c.employees.map(|n| n.to_string()).unwrap_or_default(),
        c.tags.join(", "),
        text(&c.notes),
        names.user(c.owner_id),
    ];
    let id = c.id.to_string();
    finish(
        cells,
        &c.custom_fields,
        custom,
        id,
        c.created_at,
        c.updated_at,
    )
}

/// One deal's cells, in the order of [`deal_headers`].
pub fn deal_cells(d: &Deal, names: &Names, custom: &[CustomField]) -> Vec<String> {
    let (email, phone) = names.contact(d.contact_id);
    let cells = vec![
        d.number.to_string(),
        d.title.clone(),
        text(&d.amount),
        d.currency.clone(),
        names.pipeline(d.pipeline_id),
        names.stage(d.stage_id),
        d.status.as_str().to_owned(),
        email,
        phone,
        names.company(d.company_id),
        names.user(d.assigned_to_id),
        time(&d.expected_close_at),
        time(&d.closed_at),
        text(&d.lost_reason),
        text(&d.description),
        d.tags.join(", "),
    ];
    let id = d.id.to_string();
    finish(
        cells,
        &d.custom_fields,
        custom,
        id,
        d.created_at,
        d.updated_at,
    )
}

/// One task's cells, in the order of [`task_headers`].
pub fn task_cells(t: &Task, names: &Names, custom: &[CustomField]) -> Vec<String> {
    let cells = vec![
        t.title.clone(),
        text(&t.description),
        t.status.as_str().to_owned(),
        t.priority.as_str().to_owned(),
        t.kind.as_str().to_owned(),
        time(&t.due_at),
        time(&t.completed_at),
        names.deal_number(t.deal_id),
        names.contact(t.contact_id).0,
        names.user(t.assigned_to_id),
        t.tags.join(", "),
    ];
    let id = t.id.to_string();
    finish(
        cells,
        &t.custom_fields,
        custom,
        id,
        t.created_at,
        t.updated_at,
    )
}
