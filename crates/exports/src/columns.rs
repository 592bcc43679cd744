//! The columns of an export and each record's cells: the import's field names as headers (what
//! the import maps back), linked records by name, custom fields by key, then `id`,
//! `createdAt`, `updatedAt` (which an import skips).

use std::borrow::Cow;

use crm_companies::Company;
use crm_contacts::Contact;
use crm_custom_fields::CustomField;
use crm_deals::Deal;
use crm_tasks::Task;
use serde_json::Value;

use crate::lookup::Names;

/// The networks of a contact's `social`, in column order.
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

/// A cell as rendered: borrowed from the record or the names where it can be.
pub type Cell<'a> = Cow<'a, str>;

/// A custom-field value as a cell: lists comma-separated, text as it is.
fn cell_of(value: &Value) -> Cell<'_> {
    match value {
        Value::Null => Cow::Borrowed(""),
        Value::String(s) => Cow::Borrowed(s),
        Value::Array(items) => Cow::Owned(items.iter().map(cell_of).collect::<Vec<_>>().join(", ")),
        other => Cow::Owned(other.to_string()),
    }
}

fn text(s: &Option<String>) -> Cell<'_> {
    Cow::Borrowed(s.as_deref().unwrap_or(""))
}

fn time(t: &Option<chrono::DateTime<chrono::Utc>>) -> Cell<'static> {
    Cow::Owned(t.map(|t| t.to_rfc3339()).unwrap_or_default())
}

fn tags(tags: &[String]) -> Cell<'_> {
    match tags {
        [] => Cow::Borrowed(""),
        [one] => Cow::Borrowed(one),
        many => Cow::Owned(many.join(", ")),
    }
}

/// Custom fields and bookkeeping, after a record's own cells.
fn finish<'a>(
    mut cells: Vec<Cell<'a>>,
    values: &'a Value,
    custom: &[CustomField],
    id: String,
    created: chrono::DateTime<chrono::Utc>,
    updated: chrono::DateTime<chrono::Utc>,
) -> Vec<Cell<'a>> {
    cells.extend(custom.iter().map(|f| cell_of(&values[&f.key])));
    cells.extend([id, created.to_rfc3339(), updated.to_rfc3339()].map(Cow::Owned));
    cells
}

/// One contact's cells, in the order of [`contact_headers`].
pub fn contact_cells<'a>(
    c: &'a Contact,
    names: &'a Names,
    custom: &[CustomField],
) -> Vec<Cell<'a>> {
    let s = &c.social;
    let mut cells = vec![
        Cow::Borrowed(c.full_name.as_str()),
        text(&c.email),
        text(&c.phone),
        text(&c.position),
        names.company(c.company_id),
        tags(&c.tags),
        text(&c.notes),
    ];
    // In the order of SOCIAL.
    cells.extend(
        [
            &s.telegram,
            &s.whatsapp,
            &s.vk,
            &s.instagram,
            &s.linkedin,
            &s.facebook,
            &s.website,
        ]
        .map(text),
    );
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
pub fn company_cells<'a>(
    c: &'a Company,
    names: &'a Names,
    custom: &[CustomField],
) -> Vec<Cell<'a>> {
    let cells = vec![
        Cow::Borrowed(c.name.as_str()),
        text(&c.website),
        text(&c.industry),
        text(&c.email),
        text(&c.phone),
        text(&c.address),
        Cow::Owned(c.employees.map(|n| n.to_string()).unwrap_or_default()),
        tags(&c.tags),
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
pub fn deal_cells<'a>(d: &'a Deal, names: &'a Names, custom: &[CustomField]) -> Vec<Cell<'a>> {
    let (email, phone) = names.contact(d.contact_id);
    let cells = vec![
        Cow::Owned(d.number.to_string()),
        Cow::Borrowed(d.title.as_str()),
        text(&d.amount),
        Cow::Borrowed(d.currency.as_str()),
        names.pipeline(d.pipeline_id),
        names.stage(d.stage_id),
        Cow::Borrowed(d.status.as_str()),
        email,
        phone,
        names.company(d.company_id),
        names.user(d.assigned_to_id),
        time(&d.expected_close_at),
        time(&d.closed_at),
        text(&d.lost_reason),
        text(&d.description),
        tags(&d.tags),
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
pub fn task_cells<'a>(t: &'a Task, names: &'a Names, custom: &[CustomField]) -> Vec<Cell<'a>> {
    let cells = vec![
        Cow::Borrowed(t.title.as_str()),
        text(&t.description),
        Cow::Borrowed(t.status.as_str()),
        Cow::Borrowed(t.priority.as_str()),
        Cow::Borrowed(t.kind.as_str()),
        time(&t.due_at),
        time(&t.completed_at),
        names.deal_number(t.deal_id),
        names.contact(t.contact_id).0,
        names.user(t.assigned_to_id),
        tags(&t.tags),
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
