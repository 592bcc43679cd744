//! Custom field definitions as stored and as the API shows them.

use chrono::{DateTime, Utc};
use crm_core::{CustomFieldId, EntityKind};
use crm_db::schema::custom_field_definitions;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use strum::EnumIter;

crm_core::named_enum! {
    /// The record types that carry custom fields. API and storage name: `contact`, `company`,
    /// `deal`, `task`.
    #[derive(EnumIter, diesel::deserialize::FromSqlRow)]
    pub enum CustomFieldEntity in "snake_case" {
        /// Contacts.
        Contact,
        /// Companies.
        Company,
        /// Deals.
        Deal,
        /// Tasks.
        Task,
    }
}

crm_db::stored_name!(CustomFieldEntity);

impl CustomFieldEntity {
    /// The table holding the records (and their `custom_fields` column).
    pub fn table(self) -> &'static str {
        match self {
            CustomFieldEntity::Contact => "contacts",
            CustomFieldEntity::Company => "companies",
            CustomFieldEntity::Deal => "deals",
            CustomFieldEntity::Task => "tasks",
        }
    }

    /// The kind of record, for activity entries.
    pub fn kind(self) -> EntityKind {
        match self {
            CustomFieldEntity::Contact => EntityKind::Contact,
            CustomFieldEntity::Company => EntityKind::Company,
            CustomFieldEntity::Deal => EntityKind::Deal,
            CustomFieldEntity::Task => EntityKind::Task,
        }
    }

    /// Plural noun for messages (`deals`).
    pub fn plural(self) -> &'static str {
        self.table()
    }

    /// Key of the advisory lock that orders record writes (shared) against definition changes
    /// (exclusive) of this record type.
    pub(crate) fn lock_key(self) -> i64 {
        // "CRMCF" and the type's number.
        0x4352_4d43_4600_0000
            + match self {
                CustomFieldEntity::Contact => 1,
                CustomFieldEntity::Company => 2,
                CustomFieldEntity::Deal => 3,
                CustomFieldEntity::Task => 4,
            }
    }
}

impl TryFrom<EntityKind> for CustomFieldEntity {
    type Error = EntityKind;

    fn try_from(kind: EntityKind) -> Result<Self, EntityKind> {
        match kind {
            EntityKind::Contact => Ok(CustomFieldEntity::Contact),
            EntityKind::Company => Ok(CustomFieldEntity::Company),
            EntityKind::Deal => Ok(CustomFieldEntity::Deal),
            EntityKind::Task => Ok(CustomFieldEntity::Task),
            other => Err(other),
        }
    }
}

crm_core::named_enum! {
    /// The type of a custom field, which decides the canonical form of its values (see
    /// `docs/api-conventions.md`, "Custom fields").
    #[derive(EnumIter, diesel::deserialize::FromSqlRow)]
    pub enum FieldType in "SCREAMING_SNAKE_CASE" {
        /// Text of up to 500 characters, trimmed.
        Text,
        /// A JSON number of at most 15 significant digits.
        Number,
        /// A calendar date, `YYYY-MM-DD`.
        Date,
        /// An instant, RFC 3339 in UTC with milliseconds: `2026-05-01T09:30:00.000Z`.
        Datetime,
        /// `true` or `false`.
        Boolean,
        /// One of the field's options.
        Select,
        /// Several of the field's options: an array in the order of the options, no duplicates.
        MultiSelect,
        /// An absolute http(s) URL, as the WHATWG URL standard serialises it.
        Url,
        /// An e-mail address, trimmed and lower-cased.
        Email,
        /// A phone number in E.164 (`+14155552671`).
        Phone,
    }
}

crm_db::stored_name!(FieldType);

impl FieldType {
    /// Whether the field has a list of options.
    pub fn has_options(self) -> bool {
        matches!(self, FieldType::Select | FieldType::MultiSelect)
    }

    /// Whether `gte`/`gt`/`lte`/`lt` filters apply.
    pub fn has_ranges(self) -> bool {
        matches!(
            self,
            FieldType::Number | FieldType::Date | FieldType::Datetime
        )
    }

    /// Whether lists can be sorted by the field (and a btree index serves it). Arrays of
    /// options have no useful order.
    pub fn is_sortable(self) -> bool {
        self != FieldType::MultiSelect
    }

    /// Whether values can be required to be unique across records.
    pub fn can_be_unique(self) -> bool {
        !matches!(self, FieldType::Boolean | FieldType::MultiSelect)
    }
}

/// A row of `custom_field_definitions`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = custom_field_definitions)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CustomFieldRow {
    pub id: CustomFieldId,
    pub entity_type: CustomFieldEntity,
    pub key: String,
    pub name: String,
    pub kind: FieldType,
    pub options: Vec<String>,
    pub is_required: bool,
    pub is_unique: bool,
    pub default_value: Option<Value>,
    pub position: i32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A custom field definition: everything a client needs to render and validate a form field.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomField {
    /// Id.
    pub id: CustomFieldId,
    /// The record type the field belongs to.
    pub entity_type: CustomFieldEntity,
    /// snake_case key, unique per record type, immutable: the name in `customFields` and in
    /// `cf.<key>` filters.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// The choices of SELECT and MULTI_SELECT fields, in display order (empty otherwise).
    pub options: Vec<String>,
    /// A value is needed on create (or comes from `defaultValue`) and cannot be cleared.
    pub is_required: bool,
    /// No two records (outside the trash) hold the same value.
    pub is_unique: bool,
    /// Value given to new records that name none, in canonical form (any JSON type).
    pub default_value: Option<Value>,
    /// 0-based place among the fields of its record type.
    pub position: i32,
    /// Inactive fields are hidden from records and refused on writes; their values are kept
    /// and come back when the field is activated again.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl From<CustomFieldRow> for CustomField {
    fn from(r: CustomFieldRow) -> Self {
        Self {
            id: r.id,
            entity_type: r.entity_type,
            key: r.key,
            name: r.name,
            field_type: r.kind,
            options: r.options,
            is_required: r.is_required,
            is_unique: r.is_unique,
            default_value: r.default_value,
            position: r.position,
            is_active: r.is_active,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

impl CustomField {
    /// The API representation as JSON, for change diffs.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// API path of the field's value inside a record: `customFields.<key>`.
    pub fn path(&self) -> String {
        format!("customFields.{}", self.key)
    }
}
