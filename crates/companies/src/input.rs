//! Inputs of the company services.

use chrono::{DateTime, Utc};
use crm_core::checks;
use crm_core::{Cursor, PageRequest, SortDirection, SortSpec, UserId};
use crm_custom_fields::CfQuery;
use garde::Validate;
use serde::Deserialize;

/// A new company.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCompany {
    /// Name, 1–200 characters, unique case-insensitively.
    #[schema(min_length = 1, max_length = 200)]
    #[garde(custom(checks::required_text::<200>))]
    pub name: String,
    /// Web site: an http:// or https:// URL.
    #[schema(max_length = 2048)]
    #[garde(custom(checks::url))]
    pub website: Option<String>,
    /// Industry.
    #[schema(max_length = 100)]
    #[garde(custom(checks::text::<100>))]
    pub industry: Option<String>,
    /// E-mail (stored lower-case).
    #[schema(format = Email, max_length = 254)]
    #[garde(custom(checks::email))]
    pub email: Option<String>,
    /// Phone in international format (`+` and country code); stored as E.164.
    #[garde(custom(checks::phone))]
    pub phone: Option<String>,
    /// Postal address.
    #[schema(max_length = 500)]
    #[garde(custom(checks::text::<500>))]
    pub address: Option<String>,
    /// Number of employees, ≥ 0.
    #[schema(minimum = 0)]
    #[garde(custom(checks::not_negative))]
    pub employees: Option<i32>,
    /// Free notes.
    #[schema(max_length = 10000)]
    #[garde(custom(checks::text::<{ crate::fields::MAX_NOTES_LEN }>))]
    pub notes: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "crm_core::tags::first_tags")]
    #[garde(custom(checks::tags))]
    pub tags: Vec<String>,
    /// Custom field values `{key: value}`, validated against the company custom fields
    /// (`GET /api/custom-fields?entityType=company`); absent fields get their default.
    #[schema(value_type = Option<Object>)]
    #[garde(skip)]
    pub custom_fields: Option<serde_json::Value>,
    /// Owner; defaults to the acting user. Must be an active user.
    #[garde(skip)]
    pub owner_id: Option<UserId>,
}

/// A change to a company: absent fields stay as they are, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCompany {
    /// Name, 1–200 characters.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    #[garde(custom(checks::required_text::<200>))]
    pub name: Option<Option<String>>,
    /// Web site.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::url))]
    pub website: Option<Option<String>>,
    /// Industry.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::text::<100>))]
    pub industry: Option<Option<String>>,
    /// E-mail.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::email))]
    pub email: Option<Option<String>>,
    /// Phone (international format).
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::phone))]
    pub phone: Option<Option<String>>,
    /// Postal address.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::text::<500>))]
    pub address: Option<Option<String>>,
    /// Number of employees.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<i32>)]
    #[garde(custom(checks::not_negative))]
    pub employees: Option<Option<i32>>,
    /// Free notes.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::text::<{ crate::fields::MAX_NOTES_LEN }>))]
    pub notes: Option<Option<String>>,
    /// Replaces the tags.
    #[serde(default, deserialize_with = "crm_core::tags::first_tags_or_null")]
    #[garde(custom(checks::tags))]
    pub tags: Option<Vec<String>>,
    /// Custom field values, merged key by key: a value sets the key, `null` clears it (not
    /// for required fields), keys not named stay.
    #[schema(value_type = Option<Object>)]
    #[garde(skip)]
    pub custom_fields: Option<serde_json::Value>,
    /// New owner (an active user); `null` leaves the company without owner.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    #[garde(skip)]
    pub owner_id: Option<Option<UserId>>,
}

/// Sortable company fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanySort {
    /// `createdAt`
    CreatedAt,
    /// `updatedAt`
    UpdatedAt,
    /// `name`
    Name,
    /// `employees`
    Employees,
    /// `cf.<key>`: the key at this index of `ListCompanies::custom_fields.sort_keys`.
    CustomField(usize),
}

impl CompanySort {
    /// API names of the sortable fields.
    pub const ALLOWED: &'static [(&'static str, CompanySort)] = &[
        ("createdAt", CompanySort::CreatedAt),
        ("updatedAt", CompanySort::UpdatedAt),
        ("name", CompanySort::Name),
        ("employees", CompanySort::Employees),
    ];
}

/// A validated company list request.
#[derive(Debug, Clone)]
pub struct ListCompanies {
    /// Offset page (ignored in cursor mode).
    pub page: PageRequest,
    /// Order (offset mode only).
    pub sort: SortSpec<CompanySort>,
    /// `Some` for keyset paging: `Some(None)` is the first page.
    pub cursor: Option<Option<Cursor>>,
    /// Fragment of the name, case-insensitive.
    pub q: Option<String>,
    /// Only this industry (case-insensitive).
    pub industry: Option<String>,
    /// Only companies of this owner.
    pub owner_id: Option<UserId>,
    /// Only companies with this tag.
    pub tag: Option<String>,
    /// Only companies changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// `true`: the trash only.
    pub deleted: bool,
    /// `cf.<key>` filters and the keys of `cf.<key>` sort entries.
    pub custom_fields: CfQuery,
}

impl Default for ListCompanies {
    fn default() -> Self {
        Self {
            page: PageRequest::default(),
            sort: SortSpec {
                keys: vec![(CompanySort::CreatedAt, SortDirection::Asc)],
            },
            cursor: None,
            q: None,
            industry: None,
            owner_id: None,
            tag: None,
            updated_since: None,
            deleted: false,
            custom_fields: CfQuery::default(),
        }
    }
}
