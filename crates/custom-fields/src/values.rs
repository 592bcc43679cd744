//! Validating the `customFields` of a record write against the definitions of its type.

use crm_core::FieldError;
use crm_db::AsyncPgConnection;
use crm_db::schema::custom_field_definitions as defs;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use serde_json::{Map, Value};

use crate::error::CustomFieldError;
use crate::model::{CustomField, CustomFieldEntity, CustomFieldRow};
use crate::value::normalize;

/// The definitions of one record type, as a write or a list sees them.
#[derive(Debug, Clone)]
pub struct FieldSet {
    entity: CustomFieldEntity,
    fields: Vec<CustomField>,
}

impl FieldSet {
    /// The definitions for a record write. Takes the record type's custom-field lock in
    /// shared mode until the end of the transaction, so no definition of the type changes
    /// (or converts values) between this validation and the commit. Call it first in the
    /// transaction, before locking record rows: a definition change takes the lock
    /// exclusively and then locks the record table.
    pub async fn for_write(
        conn: &mut AsyncPgConnection,
        entity: CustomFieldEntity,
    ) -> Result<Self, CustomFieldError> {
        diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind::<BigInt, _>(entity.lock_key())
            .execute(conn)
            .await?;
        Self::for_read(conn, entity).await
    }

    /// The definitions, without locking (list filters and sorts).
    pub async fn for_read(
        conn: &mut AsyncPgConnection,
        entity: CustomFieldEntity,
    ) -> Result<Self, CustomFieldError> {
        let rows: Vec<CustomFieldRow> = defs::table
            .filter(defs::entity_type.eq(entity.as_str()))
            .order((defs::position.asc(), defs::id.asc()))
            .select(CustomFieldRow::as_select())
            .load(conn)
            .await?;
        Ok(Self::new(
            entity,
            rows.into_iter().map(CustomField::from).collect(),
        ))
    }

    /// A set from definitions already loaded.
    pub fn new(entity: CustomFieldEntity, fields: Vec<CustomField>) -> Self {
        Self { entity, fields }
    }

    /// The record type.
    pub fn entity(&self) -> CustomFieldEntity {
        self.entity
    }

    /// Every definition, in position order.
    pub fn fields(&self) -> &[CustomField] {
        &self.fields
    }

    /// A value object can name each definition once at most: more keys than definitions are
    /// refused before any is looked at (a request body can hold a hundred thousand keys).
    fn check_key_count(&self, given: &Map<String, Value>) -> Result<(), CustomFieldError> {
        let max = crate::service::MAX_FIELDS;
        if given.len() > max {
            return Err(CustomFieldError::Invalid(vec![FieldError::new(
                "customFields",
                format!(
                    "names {} keys; there are at most {max} custom fields",
                    given.len()
                ),
            )]));
        }
        Ok(())
    }

    /// The definition with this key, active or not.
    pub fn field(&self, key: &str) -> Option<&CustomField> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The definition with this key if it is active; otherwise the message for the key.
    pub(crate) fn active(&self, key: &str) -> Result<&CustomField, String> {
        match self.field(key) {
            Some(f) if f.is_active => Ok(f),
            Some(_) => {
                Err("is an inactive custom field; values cannot be written or queried".into())
            }
            None => Err(format!("is not a custom field of {}", self.entity.plural())),
        }
    }

    /// The `customFields` of a new record in canonical form: every key must name an active
    /// field and hold a valid value; absent fields get their default; required fields must end
    /// up with a value. `null` and empty values count as absent.
    pub fn validate_create(&self, input: Option<&Value>) -> Result<Value, CustomFieldError> {
        let empty = Map::new();
        let given = match input {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => return Err(not_an_object()),
        };
        self.check_key_count(given)?;
        let mut errors = Vec::new();
        let mut out = Map::new();
        for (key, raw) in given {
            let path = format!("customFields.{key}");
            match self.active(key) {
                Err(message) => errors.push(FieldError::new(path, message)),
                Ok(f) => match normalize(f.field_type, &f.options, raw) {
                    Ok(Some(v)) => {
                        out.insert(key.clone(), v);
                    }
                    Ok(None) => {}
                    Err(message) => errors.push(FieldError::new(path, message)),
                },
            }
        }
        for f in self.fields.iter().filter(|f| f.is_active) {
            if out.contains_key(&f.key) || errors.iter().any(|e| e.field == f.path()) {
                continue;
            }
            if let Some(default) = &f.default_value {
                out.insert(f.key.clone(), default.clone());
            } else if f.is_required {
                errors.push(FieldError::new(f.path(), "is required"));
            }
        }
        finish(errors, out)
    }

    /// The `customFields` after a PATCH, which merges key by key: a value sets the key, `null`
    /// (or an empty value) clears it, keys not named stay. Required fields cannot be cleared.
    pub fn validate_update(
        &self,
        current: &Value,
        patch: &Value,
    ) -> Result<Value, CustomFieldError> {
        let Value::Object(patch) = patch else {
            return Err(not_an_object());
        };
        self.check_key_count(patch)?;
        let mut out = current.as_object().cloned().unwrap_or_default();
        let mut errors = Vec::new();
        for (key, raw) in patch {
            let path = format!("customFields.{key}");
            match self.active(key) {
                Err(message) => errors.push(FieldError::new(path, message)),
                Ok(f) => match normalize(f.field_type, &f.options, raw) {
                    Ok(Some(v)) => {
                        out.insert(key.clone(), v);
                    }
                    Ok(None) if f.is_required => {
                        errors.push(FieldError::new(path, "is required and cannot be cleared"));
                    }
                    Ok(None) => {
                        out.remove(key);
                    }
                    Err(message) => errors.push(FieldError::new(path, message)),
                },
            }
        }
        finish(errors, out)
    }
}

/// Moves the field errors of a failed validation into `errors`, so that a service reports
/// every invalid field of a request at once; other failures pass through. The returned value
/// is meaningless when `errors` is not empty afterwards.
pub fn gather(
    result: Result<Value, CustomFieldError>,
    errors: &mut Vec<FieldError>,
) -> Result<Value, CustomFieldError> {
    match result {
        Err(CustomFieldError::Invalid(mut found)) => {
            errors.append(&mut found);
            Ok(Value::Object(Map::new()))
        }
        other => other,
    }
}

fn not_an_object() -> CustomFieldError {
    CustomFieldError::invalid(
        "customFields",
        "must be a JSON object of custom field keys and values",
    )
}

fn finish(errors: Vec<FieldError>, out: Map<String, Value>) -> Result<Value, CustomFieldError> {
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(CustomFieldError::Invalid(errors))
    }
}

/// Name of the btree index serving ranges and sorting of a field.
pub(crate) fn sort_index_name(entity: CustomFieldEntity, key: &str) -> String {
    format!("cf_{}_{key}", entity.table())
}

/// Name of the partial unique index of a unique field.
pub(crate) fn unique_index_name(entity: CustomFieldEntity, key: &str) -> String {
    format!("cfu_{}_{key}", entity.table())
}

/// A record write that violated the unique index of a custom field: which field it was.
/// Record services call this from their `From<diesel::result::Error>` so that a duplicate
/// value (also one that a concurrent write committed first) answers 409 naming
/// `customFields.<key>`.
pub fn unique_violation(e: &Error) -> Option<CustomFieldError> {
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = e else {
        return None;
    };
    let rest = info.constraint_name()?.strip_prefix("cfu_")?;
    let (table, key) = rest.split_once('_')?;
    let entity = match table {
        "contacts" => CustomFieldEntity::Contact,
        "companies" => CustomFieldEntity::Company,
        "deals" => CustomFieldEntity::Deal,
        "tasks" => CustomFieldEntity::Task,
        _ => return None,
    };
    Some(CustomFieldError::DuplicateValue {
        entity,
        key: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldType;
    use chrono::Utc;
    use serde_json::json;

    fn field(key: &str, kind: FieldType) -> CustomField {
        CustomField {
            id: crm_core::CustomFieldId::new(),
            entity_type: CustomFieldEntity::Deal,
            key: key.into(),
            name: key.into(),
            field_type: kind,
            options: if kind.has_options() {
                vec!["a".into(), "b".into()]
            } else {
                vec![]
            },
            is_required: false,
            is_unique: false,
            default_value: None,
            position: 0,
            is_active: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    fn set() -> FieldSet {
        let mut req = field("req", FieldType::Number);
        req.is_required = true;
        let mut def = field("tier", FieldType::Select);
        def.default_value = Some(json!("a"));
        let mut old = field("old", FieldType::Text);
        old.is_active = false;
        FieldSet::new(
            CustomFieldEntity::Deal,
            vec![req, def, old, field("note", FieldType::Text)],
        )
    }

    fn fields_of(e: CustomFieldError) -> Vec<String> {
        match e {
            CustomFieldError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_applies_defaults_and_requires_required_fields() {
        let s = set();
        assert_eq!(
            s.validate_create(Some(&json!({"req": "7", "note": " x "})))
                .unwrap(),
            json!({"req": 7, "tier": "a", "note": "x"})
        );
        assert_eq!(
            fields_of(s.validate_create(None).unwrap_err()),
            ["customFields.req"]
        );
        assert_eq!(
            fields_of(s.validate_create(Some(&json!({"req": null}))).unwrap_err()),
            ["customFields.req"]
        );
    }

    #[test]
    fn unknown_inactive_and_invalid_keys_are_all_reported() {
        let s = set();
        let e = s
            .validate_create(Some(&json!({"req": "x", "nope": 1, "old": "y"})))
            .unwrap_err();
        assert_eq!(
            fields_of(e),
            ["customFields.nope", "customFields.old", "customFields.req"]
        );
        assert_eq!(
            fields_of(s.validate_create(Some(&json!([1]))).unwrap_err()),
            ["customFields"]
        );
    }

    #[test]
    fn update_merges_and_never_clears_required_fields() {
        let s = set();
        let current = json!({"req": 1, "tier": "a", "note": "x", "legacy": true});
        assert_eq!(
            s.validate_update(&current, &json!({"note": null, "tier": "B"}))
                .unwrap(),
            json!({"req": 1, "tier": "b", "legacy": true})
        );
        assert_eq!(
            fields_of(
                s.validate_update(&current, &json!({"req": null}))
                    .unwrap_err()
            ),
            ["customFields.req"]
        );
        // A required field that was never set stays unset until someone sets it.
        assert_eq!(
            s.validate_update(&json!({}), &json!({"note": "y"}))
                .unwrap(),
            json!({"note": "y"})
        );
    }
}
