//! The contact record as stored and as the API shows it.

use chrono::{DateTime, Utc};
use crm_core::checks;
use crm_core::{CompanyId, ContactId, UserId};
use crm_db::schema::contacts;
use diesel::prelude::*;
use garde::Validate;
use serde::{Deserialize, Serialize};

/// Longest accepted social handle or link.
pub const MAX_SOCIAL_LEN: usize = 200;

/// Messenger handles and profile links. Unknown keys are refused.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Validate, utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Social {
    /// Telegram handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(checks::text::<MAX_SOCIAL_LEN>))]
    pub telegram: Option<String>,
    /// WhatsApp number or handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(checks::text::<MAX_SOCIAL_LEN>))]
    pub whatsapp: Option<String>,
    /// VK profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(checks::text::<MAX_SOCIAL_LEN>))]
    pub vk: Option<String>,
    /// Instagram handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(checks::text::<MAX_SOCIAL_LEN>))]
    pub instagram: Option<String>,
    /// LinkedIn profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(checks::text::<MAX_SOCIAL_LEN>))]
    pub linkedin: Option<String>,
    /// Facebook profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(checks::text::<MAX_SOCIAL_LEN>))]
    pub facebook: Option<String>,
    /// Personal web site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(custom(checks::text::<MAX_SOCIAL_LEN>))]
    pub website: Option<String>,
}

impl Social {
    /// Every entry trimmed; blank ones are dropped.
    pub fn normalized(self) -> Self {
        let one = |v: Option<String>| crm_companies::fields::optional_text(v.as_deref());
        Self {
            telegram: one(self.telegram),
            whatsapp: one(self.whatsapp),
            vk: one(self.vk),
            instagram: one(self.instagram),
            linkedin: one(self.linkedin),
            facebook: one(self.facebook),
            website: one(self.website),
        }
    }
}

/// A row of `contacts`.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = contacts)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ContactRow {
    pub id: ContactId,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub position: Option<String>,
    pub company_id: Option<CompanyId>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub social: serde_json::Value,
    pub custom_fields: serde_json::Value,
    pub owner_id: Option<UserId>,
    pub created_by_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i32,
}

/// A contact as services return it and the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Id.
    pub id: ContactId,
    /// Full name.
    pub full_name: String,
    /// E-mail, lower-case, unique case-insensitively among contacts not in the trash.
    pub email: Option<String>,
    /// Phone number in E.164, e.g. `+14155552671`.
    pub phone: Option<String>,
    /// Job title.
    pub position: Option<String>,
    /// The company the contact works for.
    pub company_id: Option<CompanyId>,
    /// Tags.
    pub tags: Vec<String>,
    /// Free notes.
    pub notes: Option<String>,
    /// Messenger handles and profile links.
    pub social: Social,
    /// Custom field values (an object).
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Value,
    /// The user responsible; users without `contacts.read_all` see only their own contacts.
    pub owner_id: Option<UserId>,
    /// Who created it.
    pub created_by_id: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was moved to the trash; `null` unless trashed.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
}

impl Contact {
    /// The API representation as JSON, for change diffs.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Self {
            id: r.id,
            full_name: r.full_name,
            email: r.email,
            phone: r.phone,
            position: r.position,
            company_id: r.company_id,
            tags: r.tags,
            notes: r.notes,
            // Only the service writes this column, always from a `Social`.
            social: serde_json::from_value(r.social).unwrap_or_default(),
            custom_fields: r.custom_fields,
            owner_id: r.owner_id,
            created_by_id: r.created_by_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            version: r.version,
        }
    }
}
