//! Which field each column of a file fills: an explicit mapping `{column header: field}` from
//! the request, or one proposed from the headers (English and Russian synonyms, custom fields'
//! keys and names).

use std::collections::HashMap;

use crm_core::FieldError;
use crm_tabular::{FieldSpec, Mapped};

use crate::model::ImportEntity;

/// The fields of records of `entity` a column may fill.
pub fn fields_of(entity: ImportEntity) -> &'static [FieldSpec] {
    match entity {
        ImportEntity::Contacts => crm_tabular::headers::contact_fields(),
        ImportEntity::Companies => crm_tabular::headers::company_fields(),
        ImportEntity::Deals => crm_tabular::headers::deal_fields(),
        ImportEntity::Tasks => crm_tabular::headers::task_fields(),
    }
}

/// The most columns an explicit mapping may name.
pub const MAX_MAPPED_COLUMNS: usize = 500;

/// A request's explicit mapping, checked against the entity's fields: `{column: field}` where
/// field is a field's API name, `customFields.<key>`, or `null`/`""` to skip the column.
pub fn parse_explicit(
    entity: ImportEntity,
    raw: &str,
) -> Result<HashMap<String, Option<Mapped>>, FieldError> {
    let bad = |m: String| FieldError::new("mapping", m);
    let given: HashMap<String, Option<String>> = serde_json::from_str(raw)
        .map_err(|e| bad(format!("must be a JSON object {{column: field}}: {e}")))?;
    if given.len() > MAX_MAPPED_COLUMNS {
        return Err(bad(format!("at most {MAX_MAPPED_COLUMNS} columns")));
    }
    let fields = fields_of(entity);
    let mut mapping = HashMap::with_capacity(given.len());
    for (column, field) in given {
        let target = match field.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => {
                if let Some(key) = f.strip_prefix("customFields.") {
                    Some(Mapped::Custom(key.to_owned()))
                } else if let Some(spec) = fields.iter().find(|s| s.field == f) {
                    Some(Mapped::Field(spec.field))
                } else {
                    return Err(bad(format!(
                        "{f:?} (for column {column:?}) is not a field of {entity}"
                    )));
                }
            }
        };
        mapping.insert(column.trim().to_owned(), target);
    }
    Ok(mapping)
}

/// The field of each column: by the explicit mapping when there is one (columns it does not
/// name are skipped), else proposed from the headers.
pub fn resolve(
    entity: ImportEntity,
    headers: &[String],
    explicit: Option<&HashMap<String, Option<Mapped>>>,
    custom: &[(String, String)],
) -> Vec<Option<Mapped>> {
    match explicit {
        Some(map) => headers
            .iter()
            .map(|h| map.get(h.trim()).cloned().flatten())
            .collect(),
        None => crm_tabular::auto_map(headers, fields_of(entity), custom),
    }
}

/// The mapping as shown on the import: `{column: field}` (custom fields as
/// `customFields.<key>`), unmapped columns left out.
pub fn describe(headers: &[String], mapping: &[Option<Mapped>]) -> serde_json::Value {
    let mut shown = serde_json::Map::new();
    for (header, mapped) in headers.iter().zip(mapping) {
        if let Some(m) = mapped {
            let field = match m {
                Mapped::Field(f) => (*f).to_owned(),
                Mapped::Custom(k) => format!("customFields.{k}"),
            };
            shown.insert(header.clone(), serde_json::Value::String(field));
        }
    }
    serde_json::Value::Object(shown)
}
