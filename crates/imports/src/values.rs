//! A file's row (text cells) turned into the input of a record's create: cells by their
//! mapped field, lists split, custom-field cells read as their field's type.

use crm_contacts::import::ImportRow;
use crm_core::{Actor, FieldError};
use crm_db::AsyncPgConnection;
use crm_jobs::JobFailure;
use uuid::Uuid;

use crate::model::ImportEntity;
use crm_custom_fields::{CustomField, FieldType};
use crm_tabular::Mapped;
use serde_json::{Map, Value};

/// Splits a list cell (`a, b; c`) into its items.
fn items(cell: &str) -> Vec<Value> {
    cell.split([',', ';', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// A custom-field cell as its field's type; what does not read as the type is passed on as
/// text, for the field's own validation to refuse with its usual message.
fn custom_value(def: Option<&CustomField>, cell: &str) -> Value {
    let text = || Value::String(cell.to_owned());
    let Some(def) = def else { return text() };
    match def.field_type {
        FieldType::Number => cell
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(text),
        FieldType::Boolean => match cell.to_lowercase().as_str() {
            "true" | "yes" | "1" | "да" | "y" => Value::Bool(true),
            "false" | "no" | "0" | "нет" | "n" => Value::Bool(false),
            _ => text(),
        },
        FieldType::MultiSelect => Value::Array(items(cell)),
        _ => text(),
    }
}

/// The non-empty cells of a row with the field each is mapped to, trimmed and with an export's
/// spreadsheet neutralisation undone.
fn filled<'a>(
    cells: &'a [String],
    mapping: &'a [Option<Mapped>],
) -> impl Iterator<Item = (&'a Mapped, &'a str)> {
    cells.iter().zip(mapping).filter_map(|(cell, mapped)| {
        let cell = crm_tabular::unneutralized(cell.trim());
        Some((mapped.as_ref()?, cell)).filter(|(_, cell)| !cell.is_empty())
    })
}

/// The fields every record's row fills alike: tags and custom fields. `false` for others.
fn fill_common(
    object: &mut Map<String, Value>,
    custom: &mut Map<String, Value>,
    defs: &[CustomField],
    mapped: &Mapped,
    cell: &str,
) -> bool {
    match mapped {
        Mapped::Custom(key) => {
            let def = defs.iter().find(|d| &d.key == key);
            custom.insert(key.clone(), custom_value(def, cell));
        }
        Mapped::Field("tags") => {
            object.insert("tags".into(), Value::Array(items(cell)));
        }
        Mapped::Field(_) => return false,
    }
    true
}

/// The record's create input from its fields: custom fields added, the required `name_field`
/// present (an absent one is reported like an empty one).
fn finish<T: serde::de::DeserializeOwned>(
    mut object: Map<String, Value>,
    custom: Map<String, Value>,
    name_field: &str,
) -> Result<T, Vec<FieldError>> {
    if !custom.is_empty() {
        object.insert("customFields".into(), Value::Object(custom));
    }
    object
        .entry(name_field)
        .or_insert_with(|| Value::String(String::new()));
    serde_json::from_value(Value::Object(object))
        .map_err(|e| vec![FieldError::new("row", e.to_string())])
}

/// A contacts file's row as a new contact (`Err`: the cells do not even make a contact).
pub fn contact(
    line: u64,
    cells: &[String],
    mapping: &[Option<Mapped>],
    defs: &[CustomField],
) -> Result<ImportRow, Vec<FieldError>> {
    let (mut object, mut social, mut custom) = (Map::new(), Map::new(), Map::new());
    let (mut company_name, mut owner_email) = (None, None);
    for (mapped, cell) in filled(cells, mapping) {
        if fill_common(&mut object, &mut custom, defs, mapped, cell) {
            continue;
        }
        let Mapped::Field(field) = mapped else {
            continue;
        };
        match *field {
            "companyName" => company_name = Some(cell.to_owned()),
            "ownerEmail" => owner_email = Some(cell.to_owned()),
            field => match field.strip_prefix("social.") {
                Some(network) => {
                    social.insert(network.to_owned(), Value::String(cell.to_owned()));
                }
                None => {
                    object.insert(field.to_owned(), Value::String(cell.to_owned()));
                }
            },
        }
    }
    if !social.is_empty() {
        object.insert("social".into(), Value::Object(social));
    }
    Ok(ImportRow {
        line,
        input: finish(object, custom, "fullName")?,
        company_name,
        owner_email,
    })
}

/// A companies file's row as a new company.
pub fn company(
    line: u64,
    cells: &[String],
    mapping: &[Option<Mapped>],
    defs: &[CustomField],
) -> Result<crm_companies::import::ImportRow, Vec<FieldError>> {
    let (mut object, mut custom) = (Map::new(), Map::new());
    for (mapped, cell) in filled(cells, mapping) {
        if fill_common(&mut object, &mut custom, defs, mapped, cell) {
            continue;
        }
        let Mapped::Field(field) = mapped else {
            continue;
        };
        let value = if *field == "employees" {
            match cell.replace([' ', '\u{a0}'], "").parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => return Err(vec![FieldError::new("employees", "must be a whole number")]),
            }
        } else {
            Value::String(cell.to_owned())
        };
        object.insert((*field).to_owned(), value);
    }
    Ok(crm_companies::import::ImportRow {
        line,
        input: finish(object, custom, "name")?,
    })
}

/// A date or time cell as an RFC 3339 instant: RFC 3339 itself, `YYYY-MM-DD` or `DD.MM.YYYY`
/// (midnight UTC), either with ` HH:MM[:SS]` (UTC), or the `YYYY-MM-DDTHH:MM:SS` of an XLSX
/// cell. Slashed dates are refused: `03/04/2025` reads both ways.
fn moment(field: &str, cell: &str) -> Result<Value, FieldError> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if let Ok(t) = DateTime::parse_from_rfc3339(cell) {
        return Ok(Value::String(t.to_utc().to_rfc3339()));
    }
    const TIMES: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
    ];
    const DATES: &[&str] = &["%Y-%m-%d", "%d.%m.%Y"];
    let naive = TIMES
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(cell, f).ok())
        .or_else(|| {
            DATES
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(cell, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    match naive {
        Some(t) => Ok(Value::String(t.and_utc().to_rfc3339())),
        None => Err(FieldError::new(
            field,
            "is not a date: YYYY-MM-DD, DD.MM.YYYY or RFC 3339",
        )),
    }
}

/// A deals file's row as a new deal.
pub fn deal(
    line: u64,
    cells: &[String],
    mapping: &[Option<Mapped>],
    defs: &[CustomField],
) -> Result<crm_deals::import::ImportRow, Vec<FieldError>> {
    let (mut object, mut custom) = (Map::new(), Map::new());
    let mut row = crm_deals::import::ImportRow {
        line,
        ..Default::default()
    };
    let mut errors = Vec::new();
    for (mapped, cell) in filled(cells, mapping) {
        if fill_common(&mut object, &mut custom, defs, mapped, cell) {
            continue;
        }
        let Mapped::Field(field) = mapped else {
            continue;
        };
        let named = Some(cell.to_owned());
        match *field {
            // The key of an upsert; a new deal's number comes from the sequence.
            "number" => row.number = named,
            "pipeline" => row.pipeline = named,
            "stage" => row.stage = named,
            // A contact column may hold phone numbers.
            "contactEmail" if !cell.contains('@') && row.contact_phone.is_none() => {
                row.contact_phone = named;
            }
            "contactEmail" => row.contact_email = named,
            "contactPhone" => row.contact_phone = named,
            "companyName" => row.company_name = named,
            "assigneeEmail" => row.assignee_email = named,
            "expectedCloseAt" => match moment(field, cell) {
                Ok(v) => {
                    object.insert((*field).to_owned(), v);
                }
                Err(e) => errors.push(e),
            },
            "amount" => {
                // Spreadsheets write `1 500,00`; the API reads `1500.00`.
                let amount = cell.replace([' ', '\u{a0}'], "").replace(',', ".");
                object.insert("amount".into(), Value::String(amount));
            }
            "currency" => {
                object.insert("currency".into(), Value::String(cell.to_uppercase()));
            }
            field => {
                object.insert(field.to_owned(), Value::String(cell.to_owned()));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    row.input = finish(object, custom, "title")?;
    Ok(row)
}

/// Words of other CRMs' exports for task statuses, priorities and types.
const STATUS_WORDS: &[(&str, &str)] = &[
    ("новая", "TODO"),
    ("к выполнению", "TODO"),
    ("в работе", "IN_PROGRESS"),
    ("выполнена", "DONE"),
    ("завершена", "DONE"),
    ("отменена", "CANCELLED"),
];
const PRIORITY_WORDS: &[(&str, &str)] = &[
    ("низкий", "LOW"),
    ("средний", "MEDIUM"),
    ("высокий", "HIGH"),
    ("срочный", "URGENT"),
];
const TYPE_WORDS: &[(&str, &str)] = &[
    ("звонок", "CALL"),
    ("встреча", "MEETING"),
    ("письмо", "EMAIL"),
    ("другое", "OTHER"),
];

/// A task status, priority or type cell as its API name (`in progress` → `IN_PROGRESS`, and
/// the `words` of other CRMs' exports), or why not.
fn task_enum<T: std::str::FromStr + strum::VariantNames>(
    field: &str,
    cell: &str,
    words: &[(&str, &str)],
) -> Result<Value, FieldError> {
    let lower = cell.to_lowercase();
    let name = words
        .iter()
        .find(|(word, _)| *word == lower)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| cell.to_uppercase().replace([' ', '-'], "_"));
    if name.parse::<T>().is_ok() {
        Ok(Value::String(name))
    } else {
        Err(FieldError::new(
            field,
            format!("must be one of {}", T::VARIANTS.join(", ")),
        ))
    }
}

/// A tasks file's row as a new task.
pub fn task(
    line: u64,
    cells: &[String],
    mapping: &[Option<Mapped>],
    defs: &[CustomField],
) -> Result<crm_tasks::import::ImportRow, Vec<FieldError>> {
    use crm_tasks::model::{TaskPriority, TaskStatus, TaskType};
    let (mut object, mut custom) = (Map::new(), Map::new());
    let (mut deal_number, mut contact_email, mut assignee_email) = (None, None, None);
    let mut errors = Vec::new();
    for (mapped, cell) in filled(cells, mapping) {
        if fill_common(&mut object, &mut custom, defs, mapped, cell) {
            continue;
        }
        let Mapped::Field(field) = mapped else {
            continue;
        };
        let value = match *field {
            "dealNumber" => {
                deal_number = Some(cell.to_owned());
                continue;
            }
            "assigneeEmail" => {
                assignee_email = Some(cell.to_owned());
                continue;
            }
            "contactEmail" => {
                contact_email = Some(cell.to_owned());
                continue;
            }
            "dueAt" => moment(field, cell),
            "status" => task_enum::<TaskStatus>(field, cell, STATUS_WORDS),
            "priority" => task_enum::<TaskPriority>(field, cell, PRIORITY_WORDS),
            "type" => task_enum::<TaskType>(field, cell, TYPE_WORDS),
            _ => Ok(Value::String(cell.to_owned())),
        };
        match value {
            Ok(v) => {
                object.insert((*field).to_owned(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(crm_tasks::import::ImportRow {
        line,
        input: finish(object, custom, "title")?,
        deal_number,
        contact_email,
        assignee_email,
    })
}

/// The rows of a batch, as the record crate's import takes them.
pub enum Inputs {
    Contacts(Vec<ImportRow>),
    Companies(Vec<crm_companies::import::ImportRow>),
    Deals(Vec<crm_deals::import::ImportRow>),
    Tasks(Vec<crm_tasks::import::ImportRow>),
}

impl Inputs {
    pub fn new(entity: ImportEntity) -> Self {
        match entity {
            ImportEntity::Contacts => Inputs::Contacts(Vec::new()),
            ImportEntity::Companies => Inputs::Companies(Vec::new()),
            ImportEntity::Deals => Inputs::Deals(Vec::new()),
            ImportEntity::Tasks => Inputs::Tasks(Vec::new()),
        }
    }

    /// Adds a row, or says why its cells make no record.
    pub fn push(
        &mut self,
        line: u64,
        cells: &[String],
        mapping: &[Option<Mapped>],
        defs: &[CustomField],
    ) -> Result<(), Vec<FieldError>> {
        match self {
            Inputs::Contacts(rows) => rows.push(contact(line, cells, mapping, defs)?),
            Inputs::Companies(rows) => rows.push(company(line, cells, mapping, defs)?),
            Inputs::Deals(rows) => rows.push(deal(line, cells, mapping, defs)?),
            Inputs::Tasks(rows) => rows.push(task(line, cells, mapping, defs)?),
        }
        Ok(())
    }

    /// Writes the batch through the record crate (in the caller's transaction), updating the
    /// records rows match by `upsert` (tasks have no key).
    pub async fn write(
        self,
        conn: &mut AsyncPgConnection,
        actor: &Actor,
        import: Uuid,
        dry_run: bool,
        upsert: Option<crm_db::import_keys::UpsertBy>,
    ) -> Result<crm_db::import_keys::BatchOutcome, JobFailure> {
        fn failure(e: impl crm_core::DomainError) -> JobFailure {
            // Without the permission no later attempt does better.
            if e.kind() == crm_core::ErrorKind::Forbidden {
                JobFailure::permanent(e.to_string())
            } else {
                JobFailure::transient(e.to_string())
            }
        }
        match self {
            Inputs::Contacts(rows) => {
                crm_contacts::import::import_batch(conn, actor, import, rows, dry_run, upsert)
                    .await
                    .map_err(failure)
            }
            Inputs::Companies(rows) => {
                crm_companies::import::import_batch(conn, actor, import, rows, dry_run, upsert)
                    .await
                    .map_err(failure)
            }
            Inputs::Deals(rows) => {
                crm_deals::import::import_batch(conn, actor, import, rows, dry_run, upsert)
                    .await
                    .map_err(failure)
            }
            Inputs::Tasks(rows) => {
                crm_tasks::import::import_batch(conn, actor, import, rows, dry_run)
                    .await
                    .map_err(failure)
            }
        }
    }
}
