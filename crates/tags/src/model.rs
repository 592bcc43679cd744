//! The tag record and the inputs of the tag services.

use chrono::{DateTime, Utc};
use crm_core::TagId;
use crm_core::checks;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use garde::Validate;
use serde::{Deserialize, Serialize};

/// A tag with how many records carry it.
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// Id.
    #[diesel(sql_type = SqlUuid)]
    pub id: TagId,
    /// Name as first registered (unique case-insensitively).
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Colour, `#rrggbb`.
    #[diesel(sql_type = Text)]
    pub color: String,
    /// Non-trashed contacts, companies, deals and tasks carrying the tag.
    #[diesel(sql_type = BigInt)]
    pub usage_count: i64,
    /// Creation time.
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version (the `ETag`).
    #[diesel(sql_type = Integer)]
    pub version: i32,
}

/// A new tag.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTag {
    /// Name (trimmed), 1–50 characters, unique case-insensitively.
    #[schema(min_length = 1, max_length = 50)]
    #[garde(custom(checks::required_text::<{ crm_core::tags::MAX_TAG_LEN }>))]
    pub name: String,
    /// Colour `#rrggbb` (default `#9e9e9e`).
    #[serde(default)]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    #[garde(custom(checks::color))]
    pub color: Option<String>,
}

/// A change to a tag. A new name is written to every record carrying the old one.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTag {
    /// New name; the name of another tag is refused (merge instead).
    #[schema(min_length = 1, max_length = 50)]
    #[garde(custom(checks::required_text::<{ crm_core::tags::MAX_TAG_LEN }>))]
    pub name: Option<String>,
    /// New colour `#rrggbb`.
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    #[garde(custom(checks::color))]
    pub color: Option<String>,
}

/// Where a merged tag goes.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MergeTag {
    /// The tag that stays.
    #[garde(skip)]
    pub into_id: TagId,
}
