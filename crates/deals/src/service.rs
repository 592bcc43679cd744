//! Deal use cases. Each takes the connection first (so callers compose them in one
//! transaction), then the actor, then the input; every write is one transaction that also
//! records the activity entry.
//!
//! Ordering inside a stage: every operation that changes which deals a stage holds, or their
//! order, first locks the stage rows involved (sorted by id, so two operations never wait on
//! each other in a cycle), then the deal row, and then picks the deal's sparse sort key
//! (`placement`): a move writes the moved deal, not the whole stage. Writes that leave every
//! stage's order alone (field changes, trash, purge) lock only the deal row.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use crm_core::{
    Actor, Change, CompanyId, ContactId, DealId, EntityKind, EntityRef, FieldError, Listing,
    Permission, PipelineId, Role, SortDirection, StageId, UserId, change, checks,
};
use crm_custom_fields::{CustomFieldEntity, FieldSet, gather};
use crm_db::AsyncPgConnection;
use crm_db::constraint::is_foreign_key_violation;
use crm_db::schema::{companies, contacts, deals, pipelines, stages};
use crm_db::{links, visibility};
use crm_events::EventName;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;

use crate::amount::parse_amount;
use crate::error::DealError;
use crate::input::{CreateDeal, DealSort, DealStatus, ListDeals, MoveDeal, UpdateDeal};
use crate::model::{Deal, DealRow};
use crate::placement::{end_key, key_at_index};
use crm_pipelines::StageType;

use crm_db::sql::lower;

/// Longest title, in characters.
pub const MAX_TITLE_LEN: usize = 300;
pub(crate) const MAX_LOST_REASON_LEN: usize = 1000;
pub(crate) const MAX_DESCRIPTION_LEN: usize = 10_000;

/// Fields a stage change reports under `deal.stage.changed`.
const STAGE_FIELDS: &[&str] = &["stageId", "pipelineId", "status", "closedAt"];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stages)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub(crate) struct StageRef {
    pub(crate) id: StageId,
    pub(crate) pipeline_id: PipelineId,
    pub(crate) kind: StageType,
}

// ---------------------------------------------------------------------------------------------
// Validation

// The input DTOs' garde rules (`crm_core::checks`) checked every field before these give
// its stored form.

/// A text as stored: trimmed, and `None` when blank.
fn stored_text(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// An amount as stored; the rules refused what [`parse_amount`] refuses.
fn stored_amount(raw: &Value) -> Result<Option<BigDecimal>, DealError> {
    parse_amount(raw).map_err(|e| DealError::Invalid(vec![e]))
}

/// Tags as stored (trimmed, deduplicated); the rules checked their bounds.
fn stored_tags(raw: &[String]) -> Vec<String> {
    crm_core::tags::normalize_tags(raw).unwrap_or_else(|_| raw.to_vec())
}

fn finish(errors: Vec<FieldError>) -> Result<(), DealError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DealError::Invalid(errors))
    }
}

fn map_fk(e: diesel::result::Error, deal: &DealFks) -> DealError {
    if is_foreign_key_violation(&e, "deals_contact_id_fkey") {
        DealError::UnknownContact(deal.contact_id.unwrap_or(ContactId::NIL))
    } else if is_foreign_key_violation(&e, "deals_company_id_fkey") {
        DealError::UnknownCompany(deal.company_id.unwrap_or(CompanyId::NIL))
    } else if is_foreign_key_violation(&e, "deals_assigned_to_id_fkey") {
        DealError::UnknownUser(deal.assigned_to_id.unwrap_or(UserId::NIL))
    } else if is_foreign_key_violation(&e, "deals_stage_id_fkey") {
        DealError::UnknownStage(deal.stage_id.unwrap_or(StageId::NIL))
    } else if is_foreign_key_violation(&e, "deals_pipeline_id_fkey") {
        DealError::UnknownPipeline(deal.pipeline_id.unwrap_or(PipelineId::NIL))
    } else {
        e.into()
    }
}

#[derive(Default)]
struct DealFks {
    contact_id: Option<ContactId>,
    company_id: Option<CompanyId>,
    assigned_to_id: Option<UserId>,
    stage_id: Option<StageId>,
    pipeline_id: Option<PipelineId>,
}

// ---------------------------------------------------------------------------------------------
// References

async fn find_stage(conn: &mut AsyncPgConnection, id: StageId) -> Result<StageRef, DealError> {
    stages::table
        .find(id)
        .select(StageRef::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DealError::UnknownStage(id))
}

async fn pipeline_exists(conn: &mut AsyncPgConnection, id: PipelineId) -> Result<bool, DealError> {
    let n: i64 = pipelines::table
        .filter(pipelines::id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

async fn first_open_stage(
    conn: &mut AsyncPgConnection,
    pipeline_id: PipelineId,
) -> Result<StageRef, DealError> {
    stages::table
        .filter(stages::pipeline_id.eq(pipeline_id))
        .filter(stages::kind.eq(StageType::Open.as_str()))
        .order((stages::position.asc(), stages::id.asc()))
        .select(StageRef::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DealError::NoOpenStage(pipeline_id))
}

/// The stage a deal goes to for the given `pipelineId` / `stageId` (both optional).
async fn resolve_placement(
    conn: &mut AsyncPgConnection,
    pipeline_id: Option<PipelineId>,
    stage_id: Option<StageId>,
) -> Result<StageRef, DealError> {
    match (pipeline_id, stage_id) {
        (pipeline, Some(stage_id)) => {
            let stage = find_stage(conn, stage_id).await?;
            if let Some(p) = pipeline.filter(|p| *p != stage.pipeline_id) {
                if !pipeline_exists(conn, p).await? {
                    return Err(DealError::UnknownPipeline(p));
                }
                return Err(DealError::StageNotInPipeline(stage_id));
            }
            Ok(stage)
        }
        (Some(p), None) => {
            if !pipeline_exists(conn, p).await? {
                return Err(DealError::UnknownPipeline(p));
            }
            first_open_stage(conn, p).await
        }
        (None, None) => {
            let default: PipelineId = pipelines::table
                .filter(pipelines::is_default.eq(true))
                .select(pipelines::id)
                .first(conn)
                .await
                .optional()?
                .ok_or(DealError::NoDefaultPipeline)?;
            first_open_stage(conn, default).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Visibility, locking and ordering

/// Restricts a query to the deals the actor may see.
fn restrict(
    query: deals::BoxedQuery<'static, Pg>,
    actor: &Actor,
) -> deals::BoxedQuery<'static, Pg> {
    query.filter(visibility::deals(actor))
}

/// The deal if it exists, is visible, and is (`trashed`) or is not in the trash.
async fn find_visible(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: DealId,
    trashed: Option<bool>,
) -> Result<DealRow, DealError> {
    let mut query = restrict(deals::table.filter(deals::id.eq(id)).into_boxed(), actor);
    query = match trashed {
        Some(true) => query.filter(deals::deleted_at.is_not_null()),
        Some(false) => query.filter(deals::deleted_at.is_null()),
        None => query,
    };
    query
        .select(DealRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(DealError::NotFound(id))
}

/// `SELECT ... FROM stages WHERE id IN (...) ORDER BY id FOR UPDATE`: serialises every change
/// to the ordering of these stages.
async fn lock_stages(
    conn: &mut AsyncPgConnection,
    ids: &[StageId],
) -> Result<Vec<StageRef>, DealError> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    Ok(stages::table
        .filter(stages::id.eq_any(ids))
        .order(stages::id.asc())
        .select(StageRef::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Why one attempt of [`lock_deal`] did not hold the right locks.
enum LockAttempt {
    /// The deal sits on another stage than the one locked (it moved meanwhile).
    Moved(StageId),
    /// A real failure.
    Failed(DealError),
}

impl From<diesel::result::Error> for LockAttempt {
    fn from(e: diesel::result::Error) -> Self {
        LockAttempt::Failed(e.into())
    }
}

impl From<DealError> for LockAttempt {
    fn from(e: DealError) -> Self {
        LockAttempt::Failed(e)
    }
}

/// Locks the deal row alone: for writes that leave the order of every stage as it is (field
/// changes, trashing, purging), so they never queue behind moves on the same stage.
async fn lock_deal_row(conn: &mut AsyncPgConnection, id: DealId) -> Result<DealRow, DealError> {
    deals::table
        .find(id)
        .select(DealRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(DealError::NotFound(id))
}

/// Locks the deal's stage (`stage_ids[0]`, as last read) and the other stages of
/// `stage_ids` in id order, then the deal row; returns the row as locked. Once its stage is
/// locked a deal cannot leave it (every stage change locks the old stage first). If the deal
/// moved before the lock was taken, the attempt is rolled back to its savepoint, releasing
/// its locks, and repeated with the new stage, so locks are always taken stages first.
async fn lock_deal(
    conn: &mut AsyncPgConnection,
    id: DealId,
    stage_ids: &[StageId],
) -> Result<(DealRow, Vec<StageRef>), DealError> {
    let mut ids = stage_ids.to_vec();
    for _ in 0..5 {
        let attempt = conn
            .transaction(async |conn| {
                let locked = lock_stages(conn, &ids).await?;
                let row: DealRow = deals::table
                    .find(id)
                    .select(DealRow::as_select())
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or(DealError::NotFound(id))?;
                if locked.iter().any(|s| s.id == row.stage_id) {
                    Ok((row, locked))
                } else {
                    Err(LockAttempt::Moved(row.stage_id))
                }
            })
            .await;
        match attempt {
            Ok(held) => return Ok(held),
            Err(LockAttempt::Failed(e)) => return Err(e),
            Err(LockAttempt::Moved(stage)) => match ids.first_mut() {
                Some(first) => *first = stage,
                None => ids.push(stage),
            },
        }
    }
    // Only a deal moved five times during our few statements gets here.
    Err(DealError::Busy(id))
}

/// `closedAt` after a deal's status went from `before` to `after`: cleared on an open stage,
/// kept while the deal stays won (or lost), set to `now` when it closes or closes otherwise.
/// The one rule for single moves, bulk moves and stage type changes.
pub(crate) fn closed_at_for(
    before: DealStatus,
    before_closed: Option<DateTime<Utc>>,
    after: DealStatus,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match after {
        DealStatus::Open => None,
        _ if after == before && before_closed.is_some() => before_closed,
        _ => Some(now),
    }
}

fn json(deal: &Deal) -> Value {
    serde_json::to_value(deal).unwrap_or_default()
}

/// Records deals changed from `before` to `after` (pairs): one diff per deal feeds both its
/// activity (stage fields under `deal.stage.changed` when the stage changed, everything else
/// but the sort key under `deal.updated`) and its update events. However many deals, one
/// statement appends the entries and one the events.
pub(crate) async fn record_updates<'a>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    pairs: impl IntoIterator<Item = (&'a Deal, &'a Deal)>,
) -> Result<(), DealError> {
    let mut entries: Vec<(EntityRef, &str, Vec<Change>)> = Vec::new();
    let mut events = Vec::new();
    for (before, after) in pairs {
        let changes = change::diff(&json(before), &json(after));
        let entity = EntityRef::new(EntityKind::Deal, after.id);
        let stage_changed = before.stage_id != after.stage_id;
        let (stage, other): (Vec<Change>, Vec<Change>) = changes
            .iter()
            .filter(|c| !(stage_changed && c.field == "position"))
            .cloned()
            .partition(|c| stage_changed && STAGE_FIELDS.contains(&c.field.as_str()));
        if !stage.is_empty() {
            entries.push((entity, "deal.stage.changed", stage));
        }
        if !other.is_empty() {
            entries.push((entity, "deal.updated", other));
        }
        events.extend(crate::events::change_events(before, after, &changes));
    }
    crm_activity::record_many(
        conn,
        actor,
        entries.iter().map(|(e, k, c)| (*e, *k, c.as_slice())),
    )
    .await?;
    crm_events::append(conn, actor, events).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Reads a deal (`deals.read`; without `deals.read_all` only deals one created or is assigned
/// to). A trashed or invisible deal is `NotFound`.
pub async fn get_deal(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: DealId,
) -> Result<Deal, DealError> {
    actor.require(Permission::DealsRead)?;
    Ok(find_visible(conn, actor, id, Some(false)).await?.into())
}

fn like_pattern(fragment: &str) -> String {
    format!(
        "%{}%",
        fragment
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

pub(crate) fn filtered(actor: &Actor, input: &ListDeals) -> deals::BoxedQuery<'static, Pg> {
    let mut query = restrict(deals::table.into_boxed(), actor);
    query = if input.deleted {
        query.filter(deals::deleted_at.is_not_null())
    } else {
        query.filter(deals::deleted_at.is_null())
    };
    if let Some(q) = input.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // `title ILIKE` is served by the trigram index deals_title_trgm.
        query = query.filter(deals::title.ilike(like_pattern(q)));
    }
    if let Some(id) = input.pipeline_id {
        query = query.filter(deals::pipeline_id.eq(id));
    }
    if let Some(id) = input.stage_id {
        query = query.filter(deals::stage_id.eq(id));
    }
    if let Some(id) = input.assigned_to_id {
        query = query.filter(deals::assigned_to_id.eq(id));
    }
    if let Some(id) = input.contact_id {
        query = query.filter(deals::contact_id.eq(id));
    }
    if let Some(id) = input.company_id {
        query = query.filter(deals::company_id.eq(id));
    }
    if let Some(status) = input.status {
        query = query.filter(deals::status.eq(status.as_str()));
    }
    if let Some(min) = input.amount_min.clone() {
        query = query.filter(deals::amount.ge(min));
    }
    if let Some(max) = input.amount_max.clone() {
        query = query.filter(deals::amount.le(max));
    }
    if let Some(tag) = input
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        query = query.filter(crm_db::tags::carries_tag("deals", tag));
    }
    if let Some(t) = input.updated_since {
        query = query.filter(deals::updated_at.ge(t));
    }
    if let Some(email) = input.contact_email.as_deref().map(str::trim) {
        query = query.filter(
            deals::contact_id.eq_any(
                contacts::table
                    // Spelled like contacts_email_key's predicate so that index serves it.
                    .filter(lower(contacts::email).eq(email.to_lowercase()))
                    .filter(contacts::email.is_not_null())
                    .filter(contacts::deleted_at.is_null())
                    .select(contacts::id.nullable()),
            ),
        );
    }
    if let Some(name) = input.company_name.as_deref().map(str::trim) {
        query = query.filter(
            deals::company_id.eq_any(
                companies::table
                    .filter(companies::name.ilike(like_pattern(name)))
                    .filter(companies::deleted_at.is_null())
                    .select(companies::id.nullable()),
            ),
        );
    }
    for condition in input.custom_fields.conditions("deals") {
        query = query.filter(condition);
    }
    query
}

/// Lists deals (`deals.read`, visible ones only) with paging, sorting, search and filters.
pub async fn list_deals(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &ListDeals,
) -> Result<Listing<Deal>, DealError> {
    actor.require(Permission::DealsRead)?;
    let listing: Listing<DealRow> = crm_db::load_listing!(
        conn,
        deals,
        DealRow,
        &input.page,
        input.cursor,
        filtered(actor, input),
        |query| sorted(query, input),
    );
    Ok(listing.map(Deal::from))
}

/// `query` in the order of `input.sort` (ties: see [`crm_db::load_listing`]).
pub(crate) fn sorted(
    mut query: deals::BoxedQuery<'static, diesel::pg::Pg>,
    input: &ListDeals,
) -> deals::BoxedQuery<'static, diesel::pg::Pg> {
    for &(field, dir) in &input.sort.keys {
        let desc = dir == SortDirection::Desc;
        query = match (field, desc) {
            (DealSort::CreatedAt, false) => query.then_order_by(deals::created_at.asc()),
            (DealSort::CreatedAt, true) => query.then_order_by(deals::created_at.desc()),
            (DealSort::UpdatedAt, false) => query.then_order_by(deals::updated_at.asc()),
            (DealSort::UpdatedAt, true) => query.then_order_by(deals::updated_at.desc()),
            (DealSort::Amount, false) => query.then_order_by(deals::amount.asc().nulls_last()),
            (DealSort::Amount, true) => query.then_order_by(deals::amount.desc().nulls_last()),
            (DealSort::Title, false) => query.then_order_by(deals::title.asc()),
            (DealSort::Title, true) => query.then_order_by(deals::title.desc()),
            (DealSort::Number, false) => query.then_order_by(deals::number.asc()),
            (DealSort::Number, true) => query.then_order_by(deals::number.desc()),
            (DealSort::ExpectedCloseAt, false) => {
                query.then_order_by(deals::expected_close_at.asc().nulls_last())
            }
            (DealSort::ExpectedCloseAt, true) => {
                query.then_order_by(deals::expected_close_at.desc().nulls_last())
            }
            (DealSort::Position, false) => query.then_order_by(deals::position.asc()),
            (DealSort::Position, true) => query.then_order_by(deals::position.desc()),
            (DealSort::CustomField(i), _) => {
                query.then_order_by(input.custom_fields.order_by("deals", i, dir))
            }
        };
    }
    query
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Creates a deal (`deals.write`) at the end of its stage: `stageId`, else the first OPEN
/// stage of `pipelineId`, else of the default pipeline.
pub async fn create_deal(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreateDeal,
) -> Result<Deal, DealError> {
    actor.require(Permission::DealsWrite)?;
    let mut errors = checks::errors(&input);
    let title = input.title.trim().to_owned();
    let amount = match &input.amount {
        Some(a) if errors.is_empty() => stored_amount(a)?,
        _ => None,
    };
    let currency = input.currency.clone().unwrap_or_else(|| "USD".to_owned());
    let lost_reason = stored_text(input.lost_reason);
    let description = stored_text(input.description);
    let tags = stored_tags(&input.tags);
    conn.transaction(async |conn| {
        let fields = FieldSet::for_write(conn, CustomFieldEntity::Deal).await?;
        let custom_fields = gather(
            fields.validate_create(input.custom_fields.as_ref()),
            &mut errors,
        )?;
        finish(errors)?;
        let target = resolve_placement(conn, input.pipeline_id, input.stage_id).await?;
        if let Some(id) = input.contact_id {
            links::require(conn, actor, id, DealError::UnknownContact).await?;
        }
        if let Some(id) = input.company_id {
            links::require(conn, actor, id, DealError::UnknownCompany).await?;
        }
        if let Some(id) = input.assigned_to_id {
            links::require_active_user(conn, id, DealError::UnknownUser).await?;
        }
        let stage = lock_stages(conn, &[target.id])
            .await?
            .into_iter()
            .next()
            .ok_or(DealError::UnknownStage(target.id))?;
        let position = end_key(conn, stage.id, None).await?;
        let status = DealStatus::from(stage.kind);
        let now = Utc::now();
        let fks = DealFks {
            contact_id: input.contact_id,
            company_id: input.company_id,
            assigned_to_id: input.assigned_to_id,
            stage_id: Some(stage.id),
            pipeline_id: Some(stage.pipeline_id),
        };
        let row: DealRow = diesel::insert_into(deals::table)
            .values((
                deals::id.eq(DealId::new()),
                deals::title.eq(&title),
                deals::amount.eq(amount),
                deals::currency.eq(&currency),
                deals::pipeline_id.eq(stage.pipeline_id),
                deals::stage_id.eq(stage.id),
                deals::position.eq(position),
                deals::status.eq(status.as_str()),
                deals::contact_id.eq(input.contact_id),
                deals::company_id.eq(input.company_id),
                deals::assigned_to_id.eq(input.assigned_to_id),
                deals::created_by_id.eq(actor.user_id),
                deals::expected_close_at.eq(input.expected_close_at),
                deals::closed_at.eq((status != DealStatus::Open).then_some(now)),
                deals::lost_reason.eq(&lost_reason),
                deals::description.eq(&description),
                deals::tags.eq(&tags),
                deals::custom_fields.eq(&custom_fields),
                deals::created_at.eq(now),
                deals::updated_at.eq(now),
            ))
            .returning(DealRow::as_returning())
            .get_result(conn)
            .await
            .map_err(|e| map_fk(e, &fks))?;
        crm_db::tags::ensure_registered(conn, &tags).await?;
        let deal = Deal::from(row);
        crm_activity::record(
            conn,
            actor,
            EntityRef::new(EntityKind::Deal, deal.id),
            "deal.created",
            &change::created(&json(&deal)),
        )
        .await?;
        crate::events::announced(conn, actor, EventName::DealCreated, &deal).await?;
        Ok(deal)
    })
    .await
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = deals)]
struct DealChangeset {
    title: Option<String>,
    amount: Option<Option<BigDecimal>>,
    currency: Option<String>,
    pipeline_id: Option<PipelineId>,
    stage_id: Option<StageId>,
    position: Option<i64>,
    status: Option<String>,
    closed_at: Option<Option<DateTime<Utc>>>,
    contact_id: Option<Option<ContactId>>,
    company_id: Option<Option<CompanyId>>,
    assigned_to_id: Option<Option<UserId>>,
    expected_close_at: Option<Option<DateTime<Utc>>>,
    lost_reason: Option<Option<String>>,
    description: Option<Option<String>>,
    tags: Option<Vec<String>>,
    custom_fields: Option<Value>,
}

/// Changes a deal (`deals.write`). A new `stageId` (of the deal's pipeline, or of
/// `pipelineId`) moves the deal to the end of that stage; `pipelineId` alone moves it to that
/// pipeline's first OPEN stage. `expected_version` (from `If-Match`) must match.
pub async fn update_deal(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: DealId,
    input: UpdateDeal,
    expected_version: Option<i32>,
) -> Result<Deal, DealError> {
    actor.require(Permission::DealsWrite)?;
    finish(checks::errors(&input))?;
    let mut set = DealChangeset {
        title: input.title.as_deref().map(|t| t.trim().to_owned()),
        amount: match &input.amount {
            Some(Some(a)) => Some(stored_amount(a)?),
            Some(None) => Some(None),
            None => None,
        },
        currency: input.currency.clone(),
        contact_id: input.contact_id,
        company_id: input.company_id,
        assigned_to_id: input.assigned_to_id,
        expected_close_at: input.expected_close_at,
        lost_reason: input.lost_reason.clone().map(stored_text),
        description: input.description.clone().map(stored_text),
        tags: input.tags.as_deref().map(stored_tags),
        ..DealChangeset::default()
    };
    conn.transaction(async |conn| {
        // Before any deal row is locked (see crm_custom_fields::FieldSet::for_write).
        let fields = match &input.custom_fields {
            Some(_) => Some(FieldSet::for_write(conn, CustomFieldEntity::Deal).await?),
            None => None,
        };
        let current = find_visible(conn, actor, id, Some(false)).await?;
        let target = match (input.pipeline_id, input.stage_id) {
            (None, None) => None,
            (None, Some(stage_id)) => {
                let stage = find_stage(conn, stage_id).await?;
                if stage.pipeline_id != current.pipeline_id {
                    return Err(DealError::StageNotInPipeline(stage_id));
                }
                Some(stage)
            }
            (Some(p), _) if p == current.pipeline_id && input.stage_id.is_none() => None,
            (Some(p), stage_id) => Some(resolve_placement(conn, Some(p), stage_id).await?),
        };
        let target = target.filter(|t| t.id != current.stage_id);
        let (row, locked) = match &target {
            Some(t) => lock_deal(conn, id, &[current.stage_id, t.id]).await?,
            None => (lock_deal_row(conn, id).await?, Vec::new()),
        };
        if row.deleted_at.is_some() {
            return Err(DealError::NotFound(id));
        }
        crm_core::check_version(expected_version, row.version)?;
        if let (Some(fields), Some(patch)) = (&fields, &input.custom_fields) {
            set.custom_fields = Some(fields.validate_update(&row.custom_fields, patch)?);
        }
        if let Some(Some(c)) = input.contact_id.filter(|c| *c != row.contact_id) {
            links::require(conn, actor, c, DealError::UnknownContact).await?;
        }
        if let Some(Some(c)) = input.company_id.filter(|c| *c != row.company_id) {
            links::require(conn, actor, c, DealError::UnknownCompany).await?;
        }
        if let Some(Some(u)) = input.assigned_to_id.filter(|u| *u != row.assigned_to_id) {
            links::require_active_user(conn, u, DealError::UnknownUser).await?;
        }
        let before = Deal::from(row);
        let now = Utc::now();
        if let Some(t) = &target {
            let kind = locked
                .iter()
                .find(|s| s.id == t.id)
                .map_or(t.kind, |s| s.kind);
            let status = DealStatus::from(kind);
            set.stage_id = Some(t.id);
            set.position = Some(end_key(conn, t.id, None).await?);
            set.pipeline_id = Some(t.pipeline_id);
            set.status = Some(status.as_str().to_owned());
            set.closed_at = Some(closed_at_for(before.status, before.closed_at, status, now));
        }
        let fks = DealFks {
            contact_id: input.contact_id.flatten(),
            company_id: input.company_id.flatten(),
            assigned_to_id: input.assigned_to_id.flatten(),
            stage_id: set.stage_id,
            pipeline_id: set.pipeline_id,
        };
        let tags = set.tags.clone();
        let after: Deal = diesel::update(deals::table.find(id))
            .set((
                set,
                deals::updated_at.eq(now),
                deals::version.eq(deals::version + 1),
            ))
            .returning(DealRow::as_returning())
            .get_result::<DealRow>(conn)
            .await
            .map_err(|e| map_fk(e, &fks))?
            .into();
        if let Some(tags) = &tags {
            crm_db::tags::ensure_registered(conn, tags).await?;
        }
        record_updates(conn, actor, [(&before, &after)]).await?;
        Ok(after)
    })
    .await
}

/// Puts a deal at `position` (a 0-based place, clamped to the end; default the end) of a stage
/// of its pipeline (`deals.write`). The deal gets a sort key between its new neighbours.
pub async fn move_deal(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: DealId,
    input: MoveDeal,
    expected_version: Option<i32>,
) -> Result<Deal, DealError> {
    actor.require(Permission::DealsWrite)?;
    finish(checks::errors(&input))?;
    conn.transaction(async |conn| {
        let current = find_visible(conn, actor, id, Some(false)).await?;
        let target = find_stage(conn, input.stage_id).await?;
        if target.pipeline_id != current.pipeline_id {
            return Err(DealError::StageNotInPipeline(target.id));
        }
        let (row, locked) = lock_deal(conn, id, &[current.stage_id, target.id]).await?;
        if row.deleted_at.is_some() {
            return Err(DealError::NotFound(id));
        }
        crm_core::check_version(expected_version, row.version)?;
        let kind = locked
            .iter()
            .find(|s| s.id == target.id)
            .map_or(target.kind, |s| s.kind);
        let status = DealStatus::from(kind);
        let index = input.position.map_or(i64::MAX, i64::from);
        let current = (row.stage_id == target.id).then_some(row.position);
        let placement = key_at_index(conn, target.id, id, index, current).await?;
        let position = placement.key;
        let before = Deal::from(row);
        let now = Utc::now();
        let after: Deal = diesel::update(deals::table.find(id))
            .set((
                deals::stage_id.eq(target.id),
                deals::position.eq(position),
                deals::status.eq(status.as_str()),
                deals::closed_at.eq(closed_at_for(before.status, before.closed_at, status, now)),
                deals::updated_at.eq(now),
                deals::version.eq(deals::version + 1),
            ))
            .returning(DealRow::as_returning())
            .get_result::<DealRow>(conn)
            .await?
            .into();
        record_updates(conn, actor, [(&before, &after)]).await?;
        // Neighbours respaced to make room: boards learn their new keys.
        for (row, old_key) in placement.respaced {
            let now = Deal::from(row);
            let mut was = now.clone();
            was.position = old_key;
            crate::events::updated(conn, actor, &was, &now).await?;
        }
        Ok(after)
    })
    .await
}

/// Moves a deal to the trash (`deals.delete`; the others keep their keys), or with
/// `permanent` deletes it for good, trashed or not (admins only).
pub async fn delete_deal(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: DealId,
    permanent: bool,
    expected_version: Option<i32>,
) -> Result<(), DealError> {
    actor.require(Permission::DealsDelete)?;
    if permanent && actor.role != Role::Admin {
        return Err(DealError::AdminOnly);
    }
    conn.transaction(async |conn| {
        find_visible(conn, actor, id, if permanent { None } else { Some(false) }).await?;
        let row = lock_deal_row(conn, id).await?;
        if row.deleted_at.is_some() && !permanent {
            return Err(DealError::NotFound(id));
        }
        crm_core::check_version(expected_version, row.version)?;
        let entity = EntityRef::new(EntityKind::Deal, id);
        if permanent {
            diesel::delete(deals::table.find(id)).execute(conn).await?;
            crm_activity::record_purged(conn, actor, entity).await?;
            if row.deleted_at.is_none() {
                crate::events::announced(conn, actor, EventName::DealDeleted, &Deal::from(row))
                    .await?;
            }
            return Ok(());
        }
        let now = Utc::now();
        let trashed: DealRow = diesel::update(deals::table.find(id))
            .set((
                deals::deleted_at.eq(Some(now)),
                deals::updated_at.eq(now),
                deals::version.eq(deals::version + 1),
            ))
            .returning(DealRow::as_returning())
            .get_result(conn)
            .await?;
        crm_activity::record_trashed(conn, actor, entity, now).await?;
        crate::events::announced(conn, actor, EventName::DealDeleted, &trashed.into()).await?;
        Ok(())
    })
    .await
}

/// Takes a deal out of the trash (`deals.delete`), at the end of its stage.
pub async fn restore_deal(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: DealId,
) -> Result<Deal, DealError> {
    actor.require(Permission::DealsDelete)?;
    conn.transaction(async |conn| {
        let current = find_visible(conn, actor, id, Some(true)).await?;
        let (row, _) = lock_deal(conn, id, &[current.stage_id]).await?;
        if row.deleted_at.is_none() {
            return Err(DealError::NotFound(id));
        }
        let position = end_key(conn, row.stage_id, None).await?;
        let before = Deal::from(row);
        let after: Deal = diesel::update(deals::table.find(id))
            .set((
                deals::deleted_at.eq(None::<DateTime<Utc>>),
                deals::position.eq(position),
                deals::updated_at.eq(Utc::now()),
                deals::version.eq(deals::version + 1),
            ))
            .returning(DealRow::as_returning())
            .get_result::<DealRow>(conn)
            .await?
            .into();
        let changes = change::diff(&json(&before), &json(&after));
        crm_activity::record_restored(
            conn,
            actor,
            EntityRef::new(EntityKind::Deal, id),
            before.deleted_at,
            &changes,
        )
        .await?;
        let events = crate::events::change_events(&before, &after, &changes);
        crm_events::append(conn, actor, events).await?;
        Ok(after)
    })
    .await
}

/// Hard-deletes deals trashed before `older_than`; returns how many.
pub async fn purge_trash(
    conn: &mut AsyncPgConnection,
    older_than: DateTime<Utc>,
) -> Result<usize, DealError> {
    Ok(
        diesel::delete(deals::table.filter(deals::deleted_at.lt(older_than)))
            .execute(conn)
            .await?,
    )
}
