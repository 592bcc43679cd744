//! Field-level changes (`{field, from, to}`) for the activity log and field events.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One changed field. `field` is the API name; custom fields are `customFields.<key>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    /// API name of the field.
    pub field: String,
    /// Value before (JSON `null` when unset).
    pub from: Value,
    /// Value after.
    pub to: Value,
}

/// Fields never reported as changes: they change with every write.
const BOOKKEEPING: &[&str] = &["id", "createdAt", "updatedAt", "version", "deletedAt"];

/// The changes between two API representations of a record (objects with camelCase fields).
/// `customFields` objects are compared key by key.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return changes;
    };
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        if BOOKKEEPING.contains(&key.as_str()) {
            continue;
        }
        let from = b.get(key).unwrap_or(&Value::Null);
        let to = a.get(key).unwrap_or(&Value::Null);
        if from == to {
            continue;
        }
        if key == "customFields" && (from.is_object() || to.is_object()) {
            let empty = serde_json::Map::new();
            let fb = from.as_object().unwrap_or(&empty);
            let fa = to.as_object().unwrap_or(&empty);
            let mut inner: Vec<&String> = fb.keys().chain(fa.keys()).collect();
            inner.sort();
            inner.dedup();
            for k in inner {
                let (f, t) = (
                    fb.get(k).unwrap_or(&Value::Null),
                    fa.get(k).unwrap_or(&Value::Null),
                );
                if f != t {
                    changes.push(Change {
                        field: format!("customFields.{k}"),
                        from: f.clone(),
                        to: t.clone(),
                    });
                }
            }
            continue;
        }
        changes.push(Change {
            field: key.clone(),
            from: from.clone(),
            to: to.clone(),
        });
    }
    changes
}

/// Every non-null field of a new record as a change from `null` (for `created` entries).
pub fn created(after: &Value) -> Vec<Change> {
    diff(&Value::Object(serde_json::Map::new()), after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_fields_and_custom_field_keys() {
        let before = json!({"id": 1, "title": "A", "amount": "1.00", "tags": ["x"], "version": 1,
                            "customFields": {"budget": 5, "tier": "gold"}});
        let after = json!({"id": 1, "title": "B", "amount": "1.00", "tags": ["x", "y"], "version": 2,
                           "customFields": {"budget": 6, "tier": "gold", "new": true}});
        let changes = diff(&before, &after);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["customFields.budget", "customFields.new", "tags", "title"]
        );
        assert_eq!(changes[3].from, json!("A"));
        assert_eq!(changes[3].to, json!("B"));
    }

    #[test]
    fn creation_lists_the_set_fields() {
        let changes = created(&json!({"id": 1, "title": "A", "notes": null}));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "title");
    }
}
