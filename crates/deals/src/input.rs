//! Inputs of the deal services. Amounts arrive as raw JSON so that a number can be refused
//! with a field error naming `amount` instead of being read as a float.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use crm_core::checks;
use crm_core::{CompanyId, ContactId, PipelineId, StageId, UserId};
use crm_core::{Cursor, PageRequest, SortSpec};
use crm_custom_fields::CfQuery;
use crm_pipelines::StageType;
use garde::Validate;
use serde::Deserialize;
use serde_json::Value;

crm_core::named_enum! {
    /// Where a deal stands, derived from the type of its stage.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum DealStatus in "lowercase" {
        /// On an OPEN stage.
        Open,
        /// On a WON stage.
        Won,
        /// On a LOST stage.
        Lost,
    }
}

crm_db::stored_name!(DealStatus);

/// A deal's status is its stage's type: OPEN → open, WON → won, LOST → lost.
impl From<StageType> for DealStatus {
    fn from(kind: StageType) -> Self {
        match kind {
            StageType::Open => DealStatus::Open,
            StageType::Won => DealStatus::Won,
            StageType::Lost => DealStatus::Lost,
        }
    }
}

/// For PATCH fields that cannot be cleared: present means a value, `null` is refused.
fn non_null<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// `amount` as [`parse_amount`](crate::amount::parse_amount) reads it.
fn valid_amount(value: &impl AmountField, _: &()) -> garde::Result {
    match value.amount() {
        Some(v) => crate::amount::parse_amount(v)
            .map(drop)
            .map_err(|e| garde::Error::new(e.message)),
        None => Ok(()),
    }
}

/// An amount as a create (`Option<Value>`) or a PATCH (`Option<Option<Value>>`) holds it.
trait AmountField {
    fn amount(&self) -> Option<&Value>;
}

impl AmountField for Option<Value> {
    fn amount(&self) -> Option<&Value> {
        self.as_ref()
    }
}

impl AmountField for Option<Option<Value>> {
    fn amount(&self) -> Option<&Value> {
        self.as_ref().and_then(Option::as_ref)
    }
}

/// A new deal.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDeal {
    /// Title, 1–300 characters.
    #[schema(min_length = 1, max_length = 300)]
    #[garde(custom(checks::required_text::<{ crate::service::MAX_TITLE_LEN }>))]
    pub title: String,
    /// Decimal string such as `"1500.00"` (at most 18 digits before and 2 after the point, not
    /// negative), or null. JSON numbers are refused.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1500.00")]
    #[garde(custom(valid_amount))]
    pub amount: Option<Value>,
    /// ISO-4217 code, three upper-case letters (default `USD`).
    #[schema(example = "EUR")]
    #[garde(custom(checks::currency))]
    pub currency: Option<String>,
    /// Pipeline; derived from `stageId` when that is given. Default: the default pipeline.
    #[garde(skip)]
    pub pipeline_id: Option<PipelineId>,
    /// Stage; default: the first OPEN stage of the pipeline.
    #[garde(skip)]
    pub stage_id: Option<StageId>,
    /// Contact (not trashed).
    #[garde(skip)]
    pub contact_id: Option<ContactId>,
    /// Company (not trashed).
    #[garde(skip)]
    pub company_id: Option<CompanyId>,
    /// Active user responsible for the deal.
    #[garde(skip)]
    pub assigned_to_id: Option<UserId>,
    /// Expected closing time.
    #[garde(skip)]
    pub expected_close_at: Option<DateTime<Utc>>,
    /// Why the deal was lost, up to 1000 characters.
    #[schema(max_length = 1000)]
    #[garde(custom(checks::text::<{ crate::service::MAX_LOST_REASON_LEN }>))]
    pub lost_reason: Option<String>,
    /// Free text, up to 10000 characters.
    #[schema(max_length = 10000)]
    #[garde(custom(checks::text::<{ crate::service::MAX_DESCRIPTION_LEN }>))]
    pub description: Option<String>,
    /// Tags (trimmed, deduplicated case-insensitively, 1–50 characters, at most 50).
    #[serde(default, deserialize_with = "crm_core::tags::first_tags")]
    #[garde(custom(checks::tags))]
    pub tags: Vec<String>,
    /// Custom field values `{key: value}`, validated against the deal custom fields
    /// (`GET /api/custom-fields?entityType=deal`); absent fields get their default.
    #[schema(value_type = Option<Object>)]
    #[garde(skip)]
    pub custom_fields: Option<Value>,
}

/// A change to a deal; absent fields stay as they are, `null` clears nullable ones. A new
/// `stageId` puts the deal at the end of that stage; `pipelineId` (with or without `stageId`)
/// moves it to another pipeline.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDeal {
    /// Title, 1–300 characters.
    #[schema(min_length = 1, max_length = 300)]
    #[serde(default, deserialize_with = "non_null")]
    #[garde(custom(checks::required_text::<{ crate::service::MAX_TITLE_LEN }>))]
    pub title: Option<String>,
    /// Decimal string or null (see create).
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>, example = "1500.00")]
    #[garde(custom(valid_amount))]
    pub amount: Option<Option<Value>>,
    /// ISO-4217 code.
    #[serde(default, deserialize_with = "non_null")]
    #[garde(custom(checks::currency))]
    pub currency: Option<String>,
    /// Another pipeline: the deal goes to `stageId` or the pipeline's first OPEN stage.
    #[serde(default, deserialize_with = "non_null")]
    #[garde(skip)]
    pub pipeline_id: Option<PipelineId>,
    /// Another stage of the deal's pipeline (or of `pipelineId`): the deal goes to its end.
    #[serde(default, deserialize_with = "non_null")]
    #[garde(skip)]
    pub stage_id: Option<StageId>,
    /// Contact, or null.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    #[garde(skip)]
    pub contact_id: Option<Option<ContactId>>,
    /// Company, or null.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    #[garde(skip)]
    pub company_id: Option<Option<CompanyId>>,
    /// Responsible user, or null.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<Uuid>)]
    #[garde(skip)]
    pub assigned_to_id: Option<Option<UserId>>,
    /// Expected closing time, or null.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    #[garde(skip)]
    pub expected_close_at: Option<Option<DateTime<Utc>>>,
    /// Why the deal was lost, or null.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    #[garde(custom(checks::text::<{ crate::service::MAX_LOST_REASON_LEN }>))]
    pub lost_reason: Option<Option<String>>,
    /// Free text, or null.
    #[serde(default, deserialize_with = "crm_core::patch::double_option")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    #[garde(custom(checks::text::<{ crate::service::MAX_DESCRIPTION_LEN }>))]
    pub description: Option<Option<String>>,
    /// Replaces the tags.
    #[serde(default, deserialize_with = "crm_core::tags::first_tags_if_given")]
    #[garde(custom(checks::tags))]
    pub tags: Option<Vec<String>>,
    /// Custom field values, merged key by key: a value sets the key, `null` clears it (not
    /// for required fields), keys not named stay.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "non_null")]
    #[garde(skip)]
    pub custom_fields: Option<Value>,
}

/// `POST /api/deals/{id}/move`: a place on a stage of the deal's pipeline.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveDeal {
    /// Target stage (of the deal's pipeline).
    #[garde(skip)]
    pub stage_id: StageId,
    /// 0-based place inside the stage; beyond the end means the end (default).
    #[schema(minimum = 0)]
    #[garde(custom(checks::not_negative))]
    pub position: Option<i32>,
}

/// Sortable deal fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealSort {
    /// `createdAt`
    CreatedAt,
    /// `updatedAt`
    UpdatedAt,
    /// `amount`
    Amount,
    /// `title`
    Title,
    /// `number`
    Number,
    /// `expectedCloseAt`
    ExpectedCloseAt,
    /// `position`
    Position,
    /// `cf.<key>`: the key at this index of `ListDeals::custom_fields.sort_keys`.
    CustomField(usize),
}

impl DealSort {
    /// API names of the sortable fields.
    pub const ALLOWED: &'static [(&'static str, DealSort)] = &[
        ("createdAt", DealSort::CreatedAt),
        ("updatedAt", DealSort::UpdatedAt),
        ("amount", DealSort::Amount),
        ("title", DealSort::Title),
        ("number", DealSort::Number),
        ("expectedCloseAt", DealSort::ExpectedCloseAt),
        ("position", DealSort::Position),
    ];
}

/// A validated deal list request.
#[derive(Debug, Clone)]
pub struct ListDeals {
    /// Which page (ignored by keyset paging except for `limit`).
    pub page: PageRequest,
    /// `Some` for keyset paging: `Some(None)` is the first page.
    pub cursor: Option<Option<Cursor>>,
    /// Order (offset paging only).
    pub sort: SortSpec<DealSort>,
    /// Fragment of the title, case-insensitive.
    pub q: Option<String>,
    /// Only deals of this pipeline.
    pub pipeline_id: Option<PipelineId>,
    /// Only deals on this stage.
    pub stage_id: Option<StageId>,
    /// Only deals assigned to this user.
    pub assigned_to_id: Option<UserId>,
    /// Only deals of this contact.
    pub contact_id: Option<ContactId>,
    /// Only deals of this company.
    pub company_id: Option<CompanyId>,
    /// Only deals with this status.
    pub status: Option<DealStatus>,
    /// Only amounts `>=` this.
    pub amount_min: Option<BigDecimal>,
    /// Only amounts `<=` this.
    pub amount_max: Option<BigDecimal>,
    /// Only deals carrying this tag.
    pub tag: Option<String>,
    /// Only deals changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// `true`: the trash only.
    pub deleted: bool,
    /// Only deals whose contact has this e-mail (case-insensitive, exact).
    pub contact_email: Option<String>,
    /// Only deals whose company name contains this fragment (case-insensitive).
    pub company_name: Option<String>,
    /// `cf.<key>` filters and the keys of `cf.<key>` sort entries.
    pub custom_fields: CfQuery,
}

impl Default for ListDeals {
    fn default() -> Self {
        Self {
            page: PageRequest::default(),
            cursor: None,
            sort: SortSpec {
                keys: vec![(DealSort::CreatedAt, crm_core::SortDirection::Asc)],
            },
            q: None,
            pipeline_id: None,
            stage_id: None,
            assigned_to_id: None,
            contact_id: None,
            company_id: None,
            status: None,
            amount_min: None,
            amount_max: None,
            tag: None,
            updated_since: None,
            deleted: false,
            contact_email: None,
            company_name: None,
            custom_fields: CfQuery::default(),
        }
    }
}
