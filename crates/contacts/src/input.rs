//! Inputs of the contact services.

use chrono::{DateTime, Utc};
use crm_core::checks;
use crm_core::{CompanyId, UserId};
use crm_core::{Cursor, PageRequest, SortDirection, SortSpec};
use crm_custom_fields::CfQuery;
use garde::Validate;
use serde::Deserialize;

use crate::model::Social;

/// A new contact.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateContact {
    /// Full name, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    #[garde(custom(checks::required_text::<200>))]
    pub full_name: String,
    /// E-mail (trimmed, stored lower-case), unique case-insensitively.
    #[schema(format = Email, max_length = 254)]
    #[garde(custom(checks::email))]
    pub email: Option<String>,
    /// Phone in international format (`+` and country code); stored as E.164.
    #[garde(custom(checks::phone))]
    pub phone: Option<String>,
    /// Job title.
    #[schema(max_length = 200)]
    #[garde(custom(checks::text::<200>))]
    pub position: Option<String>,
    /// The company (must exist and not be in the trash).
    #[garde(skip)]
    pub company_id: Option<CompanyId>,
    /// Tags.
    #[serde(default, deserialize_with = "crm_core::tags::first_tags")]
    #[garde(custom(checks::tags))]
    pub tags: Vec<String>,
    /// Free notes.
    #[schema(max_length = 10000)]
    #[garde(custom(checks::text::<{ crm_companies::fields::MAX_NOTES_LEN }>))]
    pub notes: Option<String>,
    /// Messenger handles and profile links.
    #[garde(dive)]
    pub social: Option<Social>,
    /// Owner; defaults to the acting user. Must be an active user.
    #[garde(skip)]
    pub owner_id: Option<UserId>,
    /// Custom field values `{key: value}`, validated against the contact custom fields
    /// (`GET /api/custom-fields?entityType=contact`); absent fields get their default.
    #[schema(value_type = Option<Object>)]
    #[garde(skip)]
    pub custom_fields: Option<serde_json::Value>,
}

/// A change to a contact: absent fields stay as they are, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateContact {
    /// Full name, 1–200 characters.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    #[garde(custom(checks::required_text::<200>))]
    pub full_name: Option<Option<String>>,
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
    /// Job title.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::text::<200>))]
    pub position: Option<Option<String>>,
    /// Links to another company; `null` unlinks.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    #[garde(skip)]
    pub company_id: Option<Option<CompanyId>>,
    /// Replaces the tags.
    #[serde(default, deserialize_with = "crm_core::tags::first_tags_or_null")]
    #[garde(custom(checks::tags))]
    pub tags: Option<Vec<String>>,
    /// Free notes.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>)]
    #[garde(custom(checks::text::<{ crm_companies::fields::MAX_NOTES_LEN }>))]
    pub notes: Option<Option<String>>,
    /// Replaces the social handles; `null` clears them.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Social>)]
    #[garde(dive)]
    pub social: Option<Option<Social>>,
    /// New owner (an active user); `null` leaves the contact without owner.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    #[garde(skip)]
    pub owner_id: Option<Option<UserId>>,
    /// Custom field values, merged key by key: a value sets the key, `null` clears it (not
    /// for required fields), keys not named stay.
    #[schema(value_type = Option<Object>)]
    #[garde(skip)]
    pub custom_fields: Option<serde_json::Value>,
}

/// Sortable contact fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSort {
    /// `createdAt`
    CreatedAt,
    /// `updatedAt`
    UpdatedAt,
    /// `fullName`
    FullName,
    /// `email`
    Email,
    /// `cf.<key>`: the key at this index of `ListContacts::custom_fields.sort_keys`.
    CustomField(usize),
}

impl ContactSort {
    /// API names of the sortable fields.
    pub const ALLOWED: &'static [(&'static str, ContactSort)] = &[
        ("createdAt", ContactSort::CreatedAt),
        ("updatedAt", ContactSort::UpdatedAt),
        ("fullName", ContactSort::FullName),
        ("email", ContactSort::Email),
    ];
}

/// A validated contact list request.
#[derive(Debug, Clone)]
pub struct ListContacts {
    /// Offset page (ignored in cursor mode).
    pub page: PageRequest,
    /// Order (offset mode only).
    pub sort: SortSpec<ContactSort>,
    /// `Some` for keyset paging: `Some(None)` is the first page.
    pub cursor: Option<Option<Cursor>>,
    /// Fragment of the full name, e-mail or phone, case-insensitive.
    pub q: Option<String>,
    /// Only contacts of this company.
    pub company_id: Option<CompanyId>,
    /// Only contacts of this owner.
    pub owner_id: Option<UserId>,
    /// Only contacts with this tag.
    pub tag: Option<String>,
    /// Only the contact with this e-mail (case-insensitive).
    pub email: Option<String>,
    /// Only contacts changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// `true`: the trash only.
    pub deleted: bool,
    /// Only contacts whose company is of this industry (case-insensitive).
    pub company_industry: Option<String>,
    /// Only contacts whose company's name contains this fragment (case-insensitive).
    pub company_name: Option<String>,
    /// `cf.<key>` filters and the keys of `cf.<key>` sort entries.
    pub custom_fields: CfQuery,
}

impl Default for ListContacts {
    fn default() -> Self {
        Self {
            page: PageRequest::default(),
            sort: SortSpec {
                keys: vec![(ContactSort::CreatedAt, SortDirection::Asc)],
            },
            cursor: None,
            q: None,
            company_id: None,
            owner_id: None,
            tag: None,
            email: None,
            updated_since: None,
            deleted: false,
            company_industry: None,
            company_name: None,
            custom_fields: CfQuery::default(),
        }
    }
}
