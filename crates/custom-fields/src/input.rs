//! Inputs of the custom field services.

use crm_core::{CustomFieldId, checks};
use garde::Validate;
use serde::Deserialize;
use serde_json::Value;

use crate::model::{CustomFieldEntity, FieldType};

/// A definition's key as [`is_valid_key`](crate::service::is_valid_key) accepts it.
fn valid_key(key: &str, _: &()) -> garde::Result {
    if crate::service::is_valid_key(key.trim()) {
        Ok(())
    } else {
        Err(garde::Error::new(
            "must be snake_case: a lower-case letter, then up to 47 lower-case letters, digits or _",
        ))
    }
}

/// A new custom field.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCustomField {
    /// The record type: `contact`, `company`, `deal` or `task`.
    #[garde(skip)]
    pub entity_type: CustomFieldEntity,
    /// snake_case (`^[a-z][a-z0-9_]{0,47}$`), unique per record type, immutable.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,47}$", max_length = 48)]
    #[garde(custom(valid_key))]
    pub key: String,
    /// Display name, 1–100 characters; default: the key.
    #[schema(min_length = 1, max_length = 100)]
    #[garde(custom(checks::required_text::<{ crate::service::MAX_NAME_LEN }>))]
    pub name: Option<String>,
    /// Value type.
    #[serde(rename = "type")]
    #[garde(skip)]
    pub field_type: FieldType,
    /// For SELECT and MULTI_SELECT: 1–200 distinct options of 1–100 characters (compared
    /// ignoring case). Must be absent or empty for other types.
    #[serde(default)]
    #[garde(skip)]
    pub options: Vec<String>,
    /// Default `false`.
    #[serde(default)]
    #[garde(skip)]
    pub is_required: bool,
    /// Default `false`. Not for BOOLEAN and MULTI_SELECT fields, nor with a default value.
    #[serde(default)]
    #[garde(skip)]
    pub is_unique: bool,
    /// A valid value of the field (any JSON type), given to new records that name none.
    #[garde(skip)]
    pub default_value: Option<Value>,
    /// 0-based place among the record type's fields; default: last.
    #[schema(minimum = 0)]
    #[garde(custom(checks::not_negative))]
    pub position: Option<i32>,
    /// Default `true`.
    #[garde(skip)]
    pub is_active: Option<bool>,
}

/// A change to a custom field; absent fields stay as they are. `key` and `entityType` cannot
/// change (sending them with another value is a 400).
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCustomField {
    /// Immutable: accepted only with the current value.
    #[garde(skip)]
    pub key: Option<String>,
    /// Immutable: accepted only with the current value.
    #[garde(skip)]
    pub entity_type: Option<CustomFieldEntity>,
    /// New display name.
    #[schema(min_length = 1, max_length = 100)]
    #[garde(custom(checks::required_text::<{ crate::service::MAX_NAME_LEN }>))]
    pub name: Option<String>,
    /// New type: every stored value is converted, or the change answers 409
    /// `values_do_not_convert` with the number of records in the way.
    #[serde(rename = "type")]
    #[garde(skip)]
    pub field_type: Option<FieldType>,
    /// The new option list. Adding and reordering are free; removing an option that records
    /// hold answers 409 `option_in_use` with their number.
    #[garde(skip)]
    pub options: Option<Vec<String>>,
    /// Required from now on (records without a value keep none until written).
    #[garde(skip)]
    pub is_required: Option<bool>,
    /// Unique from now on: 409 `values_not_unique` while records share a value.
    #[garde(skip)]
    pub is_unique: Option<bool>,
    /// New default (any JSON type); `null` removes it.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Value>)]
    #[garde(skip)]
    pub default_value: Option<Option<Value>>,
    /// New place among the record type's fields (the others shift).
    #[schema(minimum = 0)]
    #[garde(custom(checks::not_negative))]
    pub position: Option<i32>,
    /// `false` hides the field and its values (kept); `true` brings them back.
    #[garde(skip)]
    pub is_active: Option<bool>,
}

/// `PUT /api/custom-fields/order`: the new order of one record type's fields.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReorderCustomFields {
    /// The record type.
    #[garde(skip)]
    pub entity_type: CustomFieldEntity,
    /// Every field id of the record type, exactly once, in the new order.
    #[garde(skip)]
    pub field_ids: Vec<CustomFieldId>,
}

/// A definition list request.
#[derive(Debug, Clone, Default)]
pub struct ListCustomFields {
    /// Only fields of this record type.
    pub entity_type: Option<CustomFieldEntity>,
    /// Only active (`true`) or inactive (`false`) fields.
    pub is_active: Option<bool>,
}
