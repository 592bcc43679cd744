//! The columns of a contacts export and each contact's cells: API field names as headers (what
//! the import maps back), linked records by name, custom fields by key.

use crm_contacts::Contact;
use crm_custom_fields::CustomField;
use serde_json::Value;

const SOCIAL: [&str; 7] = [
    "telegram",
    "whatsapp",
    "vk",
    "instagram",
    "linkedin",
    "facebook",
    "website",
];

/// The header row.
pub fn contact_headers(custom: &[CustomField]) -> Vec<String> {
    let mut headers: Vec<String> = [
        "fullName",
        "email",
        "phone",
        "position",
        "companyName",
        "tags",
        "notes",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    headers.extend(SOCIAL.iter().map(|n| format!("social.{n}")));
    headers.push("ownerEmail".into());
    headers.extend(custom.iter().map(|f| f.key.clone()));
    headers.extend(["id", "createdAt", "updatedAt"].map(str::to_owned));
    headers
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

/// One contact's cells, in the order of [`contact_headers`].
pub fn contact_cells(
    c: &Contact,
    company: Option<&str>,
    owner: Option<&str>,
    custom: &[CustomField],
) -> Vec<String> {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let social = serde_json::to_value(&c.social).unwrap_or_default();
    let mut cells = vec![
        c.full_name.clone(),
        text(&c.email),
        text(&c.phone),
        text(&c.position),
        company.unwrap_or_default().to_owned(),
        c.tags.join(", "),
        text(&c.notes),
    ];
    cells.extend(SOCIAL.iter().map(|n| cell_of(&social[*n])));
    cells.push(owner.unwrap_or_default().to_owned());
    cells.extend(custom.iter().map(|f| cell_of(&c.custom_fields[&f.key])));
    cells.push(c.id.to_string());
    cells.push(c.created_at.to_rfc3339());
    cells.push(c.updated_at.to_rfc3339());
    cells
}
