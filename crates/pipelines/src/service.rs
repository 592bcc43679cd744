//! Pipeline and stage use cases. Each takes the connection first (so callers compose them in
//! one transaction), then the actor, then the input. Every write is one transaction.

use std::collections::{HashMap, HashSet};

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use crm_core::change::{Change, created, diff};
use crm_core::{Actor, EntityKind, EntityRef, FieldError, Page, Permission};
use crm_db::AsyncPgConnection;
use crm_db::kanban::STEP;
use crm_db::schema::{activity, deals, pipelines, stages};
use crm_db::visibility;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use garde::Validate;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::PipelineError;
use crate::input::{
    CreatePipeline, CreateStage, ListPipelines, ReorderStages, StageInput, UpdatePipeline,
    UpdateStage,
};
use crate::model::{
    CurrencyTotal, Pipeline, PipelineRow, Stage, StageInfo, StageRow, StageSummary, StageType,
};

/// Serialises every change of which pipeline is the default, so two concurrent "make default"
/// calls never both see the old default and trip the `pipelines_one_default` index.
const DEFAULT_PIPELINE_LOCK: i64 = 0x4352_4d5f_5049_5045;

/// Colour of stages created without one (the column default).
const DEFAULT_COLOR: &str = "#9e9e9e";

/// The stages of a pipeline created without any.
const DEFAULT_STAGES: &[(&str, &str, StageType)] = &[
    ("New", "#90caf9", StageType::Open),
    ("Qualified", "#80deea", StageType::Open),
    ("Proposal", "#a5d6a7", StageType::Open),
    ("Negotiation", "#ffe082", StageType::Open),
    ("Won", "#66bb6a", StageType::Won),
    ("Lost", "#ef5350", StageType::Lost),
];

fn validate(input: &impl Validate<Context = ()>) -> Result<(), PipelineError> {
    input
        .validate()
        .map_err(|report| PipelineError::Invalid(FieldError::from_garde(&report)))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    kind: EntityKind,
    id: Uuid,
    event: &str,
    changes: &[Change],
) -> Result<(), PipelineError> {
    crm_activity::record(conn, actor, EntityRef::new(kind, id), event, changes).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// For other crates

/// The pipeline and type of a stage, or `None` when there is no such stage.
pub async fn stage_info(
    conn: &mut AsyncPgConnection,
    stage_id: Uuid,
) -> QueryResult<Option<StageInfo>> {
    Ok(stages::table
        .find(stage_id)
        .select(StageRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(|r| r.info()))
}

/// Where a deal lands when no stage is named: the first `OPEN` stage (by position) of the
/// default pipeline, or its first stage when it has no open one.
pub async fn default_pipeline_first_stage(conn: &mut AsyncPgConnection) -> QueryResult<StageInfo> {
    stages::table
        .inner_join(pipelines::table)
        .filter(pipelines::is_default.eq(true))
        .order((
            stages::kind.ne(StageType::Open.as_str()),
            stages::position.asc(),
            stages::id.asc(),
        ))
        .select(StageRow::as_select())
        .first(conn)
        .await
        .map(|r: StageRow| r.info())
}

// ---------------------------------------------------------------------------------------------
// Reading

async fn stages_of(conn: &mut AsyncPgConnection, pipeline_id: Uuid) -> QueryResult<Vec<Stage>> {
    let rows: Vec<StageRow> = stages::table
        .filter(stages::pipeline_id.eq(pipeline_id))
        .order((
            stages::position.asc(),
            stages::created_at.asc(),
            stages::id.asc(),
        ))
        .select(StageRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(Stage::from).collect())
}

async fn find_pipeline(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lock: bool,
) -> Result<PipelineRow, PipelineError> {
    let query = pipelines::table.find(id).select(PipelineRow::as_select());
    let row = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    row.ok_or(PipelineError::PipelineNotFound(id))
}

async fn find_stage(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lock: bool,
) -> Result<StageRow, PipelineError> {
    let query = stages::table.find(id).select(StageRow::as_select());
    let row = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    row.ok_or(PipelineError::StageNotFound(id))
}

async fn load_pipeline(
    conn: &mut AsyncPgConnection,
    row: PipelineRow,
) -> Result<Pipeline, PipelineError> {
    let stages = stages_of(conn, row.id).await?;
    Ok(Pipeline::from_parts(row, stages))
}

fn escape_like(q: &str) -> String {
    format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

fn filtered(input: &ListPipelines) -> pipelines::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = pipelines::table.into_boxed();
    if let Some(q) = input.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(pipelines::name.ilike(escape_like(q)));
    }
    if let Some(t) = input.updated_since {
        query = query.filter(pipelines::updated_at.ge(t));
    }
    query
}

/// Lists pipelines (`pipelines.read`) ordered by position, then creation, each with its
/// stages: three queries whatever the page size.
pub async fn list_pipelines(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &ListPipelines,
) -> Result<Page<Pipeline>, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    let total: i64 = filtered(input).count().get_result(conn).await?;
    let rows: Vec<PipelineRow> = filtered(input)
        .order((
            pipelines::position.asc(),
            pipelines::created_at.asc(),
            pipelines::id.asc(),
        ))
        .select(PipelineRow::as_select())
        .limit(input.page.limit)
        .offset(input.page.offset())
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let stage_rows: Vec<StageRow> = if ids.is_empty() {
        Vec::new()
    } else {
        stages::table
            .filter(stages::pipeline_id.eq_any(&ids))
            .order((
                stages::position.asc(),
                stages::created_at.asc(),
                stages::id.asc(),
            ))
            .select(StageRow::as_select())
            .load(conn)
            .await?
    };
    let mut by_pipeline: HashMap<Uuid, Vec<Stage>> = HashMap::new();
    for s in stage_rows {
        by_pipeline.entry(s.pipeline_id).or_default().push(s.into());
    }
    let items = rows
        .into_iter()
        .map(|r| {
            let stages = by_pipeline.remove(&r.id).unwrap_or_default();
            Pipeline::from_parts(r, stages)
        })
        .collect();
    Ok(Page {
        items,
        page: input.page.page,
        limit: input.page.limit,
        total,
    })
}

/// Reads a pipeline with its stages (`pipelines.read`).
pub async fn get_pipeline(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Pipeline, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    let row = find_pipeline(conn, id, false).await?;
    load_pipeline(conn, row).await
}

/// The stages of a pipeline in order (`pipelines.read`).
pub async fn list_stages(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    pipeline_id: Uuid,
) -> Result<Vec<Stage>, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    find_pipeline(conn, pipeline_id, false).await?;
    Ok(stages_of(conn, pipeline_id).await?)
}

/// Reads a stage (`pipelines.read`).
pub async fn get_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Stage, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    Ok(find_stage(conn, id, false).await?.into())
}

/// Per stage, in order: the number of non-deleted deals the actor may read and their amounts
/// summed per currency, exactly (`pipelines.read`). Deals out of the actor's reach count
/// nowhere (the visibility rule of `crm_db::visibility`).
pub async fn pipeline_summary(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<StageSummary>, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    let stage_rows: Vec<(Uuid, String, StageType)> = stages::table
        .filter(stages::pipeline_id.eq(id))
        .order((stages::position, stages::created_at, stages::id))
        .select((stages::id, stages::name, stages::kind))
        .load(conn)
        .await?;
    if stage_rows.is_empty() {
        // A pipeline always has a stage: no rows means no pipeline.
        return Err(PipelineError::PipelineNotFound(id));
    }
    let stage_ids: Vec<Uuid> = stage_rows.iter().map(|(id, _, _)| *id).collect();
    let groups: Vec<(Uuid, String, i64, Option<BigDecimal>)> = deals::table
        .filter(deals::stage_id.eq_any(&stage_ids))
        .filter(deals::deleted_at.is_null())
        .filter(visibility::deals(actor))
        .group_by((deals::stage_id, deals::currency))
        .select((
            deals::stage_id,
            deals::currency,
            diesel::dsl::count_star(),
            diesel::dsl::sum(deals::amount),
        ))
        .order((deals::stage_id, deals::currency))
        .load(conn)
        .await?;
    let mut by_stage: HashMap<Uuid, (i64, Vec<CurrencyTotal>)> = HashMap::new();
    for (stage_id, currency, count, amount) in groups {
        let (n, totals) = by_stage.entry(stage_id).or_default();
        *n += count;
        if let Some(amount) = amount {
            totals.push(CurrencyTotal {
                currency,
                // `deals.amount` is numeric(20, 2): two places are exact.
                amount: amount.with_scale(2).to_string(),
            });
        }
    }
    Ok(stage_rows
        .into_iter()
        .map(|(stage_id, name, kind)| {
            let (count, totals) = by_stage.remove(&stage_id).unwrap_or_default();
            StageSummary {
                stage_id,
                name,
                kind,
                count,
                totals,
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Moving deals between stages

#[derive(QueryableByName)]
struct DealToMove {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    stage_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pipeline_id: Uuid,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    closed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    position: i64,
}

/// Which deals to move.
enum Source<'a> {
    /// The deals of these stages.
    Stages(&'a [Uuid]),
    /// The deals of a pipeline (by stage or by pipeline column).
    Pipeline(Uuid, &'a [Uuid]),
}

/// Locks the deals of `source` (trashed ones included) in board order.
async fn deals_of(
    conn: &mut AsyncPgConnection,
    source: &Source<'_>,
) -> Result<Vec<DealToMove>, PipelineError> {
    let (stage_ids, pipeline_id) = match source {
        Source::Stages(ids) => (*ids, None),
        Source::Pipeline(p, ids) => (*ids, Some(*p)),
    };
    Ok(diesel::sql_query(
        "SELECT d.id, d.stage_id, d.pipeline_id, d.status, d.closed_at, d.position \
         FROM deals d LEFT JOIN stages s ON s.id = d.stage_id \
         WHERE d.stage_id = ANY($1) OR d.pipeline_id = $2 \
         ORDER BY s.position, d.position, d.created_at, d.id \
         FOR UPDATE OF d",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(stage_ids)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(pipeline_id)
    .load(conn)
    .await?)
}

/// Puts `deals` into `target`: stage, pipeline, status and `closed_at` follow the target
/// (closed now when entering WON/LOST from open, cleared when entering OPEN). With `append`
/// they go after the target's last deal keeping their order; otherwise positions stay.
/// Records a `deal.updated` entry per changed deal. Returns how many deals changed.
async fn place_deals(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    deals_to_move: Vec<DealToMove>,
    target: &StageInfo,
    append: bool,
) -> Result<usize, PipelineError> {
    if deals_to_move.is_empty() {
        return Ok(0);
    }
    let snapshot =
        crate::events::snapshot(conn, deals_to_move.iter().map(|d| d.id).collect()).await?;
    // Trashed deals of the target keep their keys and may come back: stay clear of them too.
    let base: i64 = if append {
        deals::table
            .filter(deals::stage_id.eq(target.id))
            .select(diesel::dsl::max(deals::position))
            .first::<Option<i64>>(conn)
            .await?
            .map_or(0, |k| k.saturating_add(STEP))
    } else {
        0
    };
    let now = Utc::now();
    let status = target.kind.deal_status();
    let mut ids = Vec::new();
    let mut positions = Vec::new();
    let mut closed = Vec::new();
    let mut entries = Vec::new();
    for (i, d) in deals_to_move.into_iter().enumerate() {
        let position = if append {
            base.saturating_add(i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(STEP))
        } else {
            d.position
        };
        let closed_at = if status == "open" {
            None
        } else if d.status == "open" {
            Some(now)
        } else {
            d.closed_at
        };
        let mut changes = Vec::new();
        let mut change = |field: &str, from: Value, to: Value| {
            if from != to {
                changes.push(Change {
                    field: field.to_owned(),
                    from,
                    to,
                });
            }
        };
        change("closedAt", json!(d.closed_at), json!(closed_at));
        change(
            "pipelineId",
            json!(d.pipeline_id),
            json!(target.pipeline_id),
        );
        change("position", json!(d.position), json!(position));
        change("stageId", json!(d.stage_id), json!(target.id));
        change("status", json!(d.status), json!(status));
        if changes.is_empty() {
            continue;
        }
        ids.push(d.id);
        positions.push(position);
        closed.push(closed_at);
        entries.push((
            activity::id.eq(Uuid::now_v7()),
            activity::entity_type.eq(EntityKind::Deal.as_str()),
            activity::entity_id.eq(d.id),
            activity::kind.eq("deal.updated"),
            activity::actor_id.eq(actor.user_id.map(|u| u.0)),
            activity::api_key_id.eq(actor.api_key_id.map(|k| k.0)),
            activity::changes.eq(to_json(&changes)),
        ));
    }
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::sql_query(
        "UPDATE deals AS d SET stage_id = $1, pipeline_id = $2, status = $3, \
                position = v.pos, closed_at = v.closed_at, updated_at = $4, \
                version = d.version + 1 \
         FROM unnest($5::uuid[], $6::int8[], $7::timestamptz[]) AS v (id, pos, closed_at) \
         WHERE d.id = v.id",
    )
    .bind::<diesel::sql_types::Uuid, _>(target.id)
    .bind::<diesel::sql_types::Uuid, _>(target.pipeline_id)
    .bind::<Text, _>(status)
    .bind::<Timestamptz, _>(now)
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&positions)
    .bind::<Array<Nullable<Timestamptz>>, _>(&closed)
    .execute(conn)
    .await?;
    diesel::insert_into(activity::table)
        .values(entries)
        .execute(conn)
        .await?;
    crate::events::deals_moved(conn, actor, snapshot).await?;
    Ok(ids.len())
}

/// The stage named by `moveDealsTo`, locked against deletion while deals move into it.
async fn move_target(conn: &mut AsyncPgConnection, id: Uuid) -> Result<StageInfo, PipelineError> {
    stages::table
        .find(id)
        .select(StageRow::as_select())
        .for_share()
        .first(conn)
        .await
        .optional()?
        .map(|r| r.info())
        .ok_or(PipelineError::InvalidMoveTarget("no such stage"))
}

// ---------------------------------------------------------------------------------------------
// The default pipeline

async fn lock_default(conn: &mut AsyncPgConnection) -> Result<(), PipelineError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(DEFAULT_PIPELINE_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes every default pipeline but `except` a normal one, recording the change. Call with
/// the default lock held.
async fn unset_other_defaults(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    except: Uuid,
) -> Result<(), PipelineError> {
    let previous: Vec<PipelineRow> = pipelines::table
        .filter(pipelines::is_default.eq(true))
        .filter(pipelines::id.ne(except))
        .select(PipelineRow::as_select())
        .for_update()
        .load(conn)
        .await?;
    for before in previous {
        let after: PipelineRow = diesel::update(pipelines::table.find(before.id))
            .set((
                pipelines::is_default.eq(false),
                pipelines::updated_at.eq(Utc::now()),
                pipelines::version.eq(pipelines::version + 1),
            ))
            .returning(PipelineRow::as_returning())
            .get_result(conn)
            .await?;
        let changes = diff(
            &Pipeline::from_parts(before, Vec::new()).activity_json(),
            &Pipeline::from_parts(after.clone(), Vec::new()).activity_json(),
        );
        record(
            conn,
            actor,
            EntityKind::Pipeline,
            after.id,
            "pipeline.updated",
            &changes,
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pipelines

fn normalize_color(c: Option<&str>) -> String {
    c.map_or_else(|| DEFAULT_COLOR.to_owned(), str::to_lowercase)
}

/// Creates a pipeline with its stages (`pipelines.manage`); without `stages` it gets New,
/// Qualified, Proposal, Negotiation (OPEN), Won (WON) and Lost (LOST). `isDefault: true`
/// makes it the one default pipeline.
pub async fn create_pipeline(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreatePipeline,
) -> Result<Pipeline, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    validate(&input)?;
    let stage_inputs: Vec<StageInput> = input.stages.clone().unwrap_or_else(|| {
        DEFAULT_STAGES
            .iter()
            .map(|(name, color, kind)| StageInput {
                name: (*name).to_owned(),
                color: Some((*color).to_owned()),
                kind: Some(*kind),
            })
            .collect()
    });
    conn.transaction(async |conn| {
        let id = Uuid::now_v7();
        if input.is_default {
            lock_default(conn).await?;
            unset_other_defaults(conn, actor, id).await?;
        }
        let position = match input.position {
            Some(p) => p,
            None => pipelines::table
                .select(diesel::dsl::max(pipelines::position))
                .first::<Option<i32>>(conn)
                .await?
                .map_or(0, |m| m.saturating_add(1)),
        };
        let now = Utc::now();
        let row: PipelineRow = diesel::insert_into(pipelines::table)
            .values((
                pipelines::id.eq(id),
                pipelines::name.eq(input.name.trim()),
                pipelines::description.eq(input.description.as_deref().map(str::trim)),
                pipelines::is_default.eq(input.is_default),
                pipelines::position.eq(position),
                pipelines::created_at.eq(now),
                pipelines::updated_at.eq(now),
            ))
            .returning(PipelineRow::as_returning())
            .get_result(conn)
            .await?;
        let values: Vec<_> = stage_inputs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    stages::id.eq(Uuid::now_v7()),
                    stages::pipeline_id.eq(id),
                    stages::name.eq(s.name.trim().to_owned()),
                    stages::position.eq(i32::try_from(i).unwrap_or(i32::MAX)),
                    stages::color.eq(normalize_color(s.color.as_deref())),
                    stages::kind.eq(s.kind.unwrap_or_default().as_str()),
                    stages::created_at.eq(now),
                    stages::updated_at.eq(now),
                )
            })
            .collect();
        let stage_rows: Vec<StageRow> = diesel::insert_into(stages::table)
            .values(values)
            .returning(StageRow::as_returning())
            .get_results(conn)
            .await?;
        let mut stage_list: Vec<Stage> = stage_rows.into_iter().map(Stage::from).collect();
        stage_list.sort_by_key(|s| s.position);
        let pipeline = Pipeline::from_parts(row, stage_list);
        record(
            conn,
            actor,
            EntityKind::Pipeline,
            id,
            "pipeline.created",
            &created(&pipeline.activity_json()),
        )
        .await?;
        for s in &pipeline.stages {
            record(
                conn,
                actor,
                EntityKind::Stage,
                s.id,
                "stage.created",
                &created(&to_json(s)),
            )
            .await?;
        }
        Ok(pipeline)
    })
    .await
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = pipelines)]
struct PipelineChangeset {
    name: Option<String>,
    description: Option<Option<String>>,
    is_default: Option<bool>,
    position: Option<i32>,
}

/// Changes a pipeline (`pipelines.manage`). `isDefault: true` makes it the default (the
/// previous default stops being one, in the same transaction); `isDefault: false` on the
/// default is refused: make another pipeline the default instead.
pub async fn update_pipeline(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    input: UpdatePipeline,
    expected_version: Option<i32>,
) -> Result<Pipeline, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    validate(&input)?;
    conn.transaction(async |conn| {
        if input.is_default == Some(true) {
            // Lock order: the default lock before any pipeline row.
            lock_default(conn).await?;
        }
        let before = find_pipeline(conn, id, true).await?;
        crm_core::check_version(expected_version, before.version)?;
        match input.is_default {
            Some(false) if before.is_default => {
                return Err(PipelineError::DefaultPipelineRequired);
            }
            Some(true) if !before.is_default => unset_other_defaults(conn, actor, id).await?,
            _ => {}
        }
        let changes = PipelineChangeset {
            name: input.name.as_deref().map(|s| s.trim().to_owned()),
            description: input
                .description
                .clone()
                .map(|d| d.map(|s| s.trim().to_owned())),
            is_default: input.is_default,
            position: input.position,
        };
        let after: PipelineRow = diesel::update(pipelines::table.find(id))
            .set((
                changes,
                pipelines::updated_at.eq(Utc::now()),
                pipelines::version.eq(pipelines::version + 1),
            ))
            .returning(PipelineRow::as_returning())
            .get_result(conn)
            .await?;
        let changes = diff(
            &Pipeline::from_parts(before, Vec::new()).activity_json(),
            &Pipeline::from_parts(after.clone(), Vec::new()).activity_json(),
        );
        record(
            conn,
            actor,
            EntityKind::Pipeline,
            id,
            "pipeline.updated",
            &changes,
        )
        .await?;
        load_pipeline(conn, after).await
    })
    .await
}

/// Deletes a pipeline and its stages for good (`pipelines.manage`). Never the default one.
/// While it holds deals (trashed ones included) it is refused unless `move_deals_to` names a
/// stage of another pipeline: then every deal moves there first.
pub async fn delete_pipeline(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    move_deals_to: Option<Uuid>,
    expected_version: Option<i32>,
) -> Result<(), PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    conn.transaction(async |conn| {
        let row = find_pipeline(conn, id, true).await?;
        crm_core::check_version(expected_version, row.version)?;
        if row.is_default {
            return Err(PipelineError::DefaultPipelineRequired);
        }
        let stage_ids: Vec<Uuid> = stages::table
            .filter(stages::pipeline_id.eq(id))
            .select(stages::id)
            .for_update()
            .load(conn)
            .await?;
        let target = match move_deals_to {
            Some(t) => {
                let target = move_target(conn, t).await?;
                if target.pipeline_id == id {
                    return Err(PipelineError::InvalidMoveTarget(
                        "must be a stage of another pipeline",
                    ));
                }
                Some(target)
            }
            None => None,
        };
        let held = deals_of(conn, &Source::Pipeline(id, &stage_ids)).await?;
        let mut changes = Vec::new();
        if !held.is_empty() {
            let Some(target) = target else {
                return Err(PipelineError::PipelineInUse(held.len() as i64));
            };
            let moved = held.len();
            place_deals(conn, actor, held, &target, true).await?;
            changes.push(Change {
                field: "dealsMovedTo".into(),
                from: Value::Null,
                to: json!({"stageId": target.id, "count": moved}),
            });
        }
        diesel::delete(pipelines::table.find(id))
            .execute(conn)
            .await?;
        record(
            conn,
            actor,
            EntityKind::Pipeline,
            id,
            "pipeline.deleted",
            &changes,
        )
        .await?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Stages

/// Adds a stage to a pipeline (`pipelines.manage`), at `position` (later stages move down
/// one place) or at the end.
pub async fn create_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    pipeline_id: Uuid,
    input: CreateStage,
) -> Result<Stage, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    validate(&input)?;
    conn.transaction(async |conn| {
        find_pipeline(conn, pipeline_id, true).await?;
        let count: i64 = stages::table
            .filter(stages::pipeline_id.eq(pipeline_id))
            .count()
            .get_result(conn)
            .await?;
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        let position = input.position.map_or(count, |p| p.min(count));
        let now = Utc::now();
        if position < count {
            diesel::update(
                stages::table
                    .filter(stages::pipeline_id.eq(pipeline_id))
                    .filter(stages::position.ge(position)),
            )
            .set((
                stages::position.eq(stages::position + 1),
                stages::updated_at.eq(now),
                stages::version.eq(stages::version + 1),
            ))
            .execute(conn)
            .await?;
        }
        let row: StageRow = diesel::insert_into(stages::table)
            .values((
                stages::id.eq(Uuid::now_v7()),
                stages::pipeline_id.eq(pipeline_id),
                stages::name.eq(input.name.trim()),
                stages::position.eq(position),
                stages::color.eq(normalize_color(input.color.as_deref())),
                stages::kind.eq(input.kind.unwrap_or_default().as_str()),
                stages::created_at.eq(now),
                stages::updated_at.eq(now),
            ))
            .returning(StageRow::as_returning())
            .get_result(conn)
            .await?;
        let stage = Stage::from(row);
        record(
            conn,
            actor,
            EntityKind::Stage,
            stage.id,
            "stage.created",
            &created(&to_json(&stage)),
        )
        .await?;
        Ok(stage)
    })
    .await
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = stages)]
struct StageChangeset {
    name: Option<String>,
    color: Option<String>,
    kind: Option<String>,
}

/// Changes a stage (`pipelines.manage`). A new type re-derives the status and `closedAt` of
/// every deal in the stage, in the same transaction.
pub async fn update_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    input: UpdateStage,
    expected_version: Option<i32>,
) -> Result<Stage, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    validate(&input)?;
    conn.transaction(async |conn| {
        let before = find_stage(conn, id, true).await?;
        crm_core::check_version(expected_version, before.version)?;
        let changes = StageChangeset {
            name: input.name.as_deref().map(|s| s.trim().to_owned()),
            color: input.color.as_deref().map(str::to_lowercase),
            kind: input.kind.map(|k| k.as_str().to_owned()),
        };
        let after: StageRow = diesel::update(stages::table.find(id))
            .set((
                changes,
                stages::updated_at.eq(Utc::now()),
                stages::version.eq(stages::version + 1),
            ))
            .returning(StageRow::as_returning())
            .get_result(conn)
            .await?;
        if after.kind != before.kind {
            let held = deals_of(conn, &Source::Stages(&[id])).await?;
            place_deals(conn, actor, held, &after.info(), false).await?;
        }
        let (before, after) = (Stage::from(before), Stage::from(after));
        record(
            conn,
            actor,
            EntityKind::Stage,
            id,
            "stage.updated",
            &diff(&to_json(&before), &to_json(&after)),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// Deletes a stage for good (`pipelines.manage`); never a pipeline's last one. While it holds
/// deals (trashed ones included) it is refused unless `move_deals_to` names another stage
/// (of any pipeline): then its deals move there first. Later stages move up one place.
pub async fn delete_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    move_deals_to: Option<Uuid>,
    expected_version: Option<i32>,
) -> Result<(), PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    conn.transaction(async |conn| {
        let pipeline_id = find_stage(conn, id, false).await?.pipeline_id;
        // The pipeline row serialises stage deletions: two concurrent deletions of its last
        // two stages cannot both pass the last-stage check.
        find_pipeline(conn, pipeline_id, true).await?;
        let row = find_stage(conn, id, true).await?;
        crm_core::check_version(expected_version, row.version)?;
        let count: i64 = stages::table
            .filter(stages::pipeline_id.eq(row.pipeline_id))
            .count()
            .get_result(conn)
            .await?;
        if count <= 1 {
            return Err(PipelineError::LastStage);
        }
        let target = match move_deals_to {
            Some(t) if t == id => {
                return Err(PipelineError::InvalidMoveTarget(
                    "must be another stage than the one deleted",
                ));
            }
            Some(t) => Some(move_target(conn, t).await?),
            None => None,
        };
        let held = deals_of(conn, &Source::Stages(&[id])).await?;
        let mut changes = Vec::new();
        if !held.is_empty() {
            let Some(target) = target else {
                return Err(PipelineError::StageInUse(held.len() as i64));
            };
            let moved = held.len();
            place_deals(conn, actor, held, &target, true).await?;
            changes.push(Change {
                field: "dealsMovedTo".into(),
                from: Value::Null,
                to: json!({"stageId": target.id, "count": moved}),
            });
        }
        diesel::delete(stages::table.find(id)).execute(conn).await?;
        diesel::update(
            stages::table
                .filter(stages::pipeline_id.eq(row.pipeline_id))
                .filter(stages::position.gt(row.position)),
        )
        .set((
            stages::position.eq(stages::position - 1),
            stages::updated_at.eq(Utc::now()),
            stages::version.eq(stages::version + 1),
        ))
        .execute(conn)
        .await?;
        record(
            conn,
            actor,
            EntityKind::Stage,
            id,
            "stage.deleted",
            &changes,
        )
        .await?;
        Ok(())
    })
    .await
}

/// Puts a pipeline's stages in a new order (`pipelines.manage`): `stageIds` must be exactly
/// its stage ids, each once; positions become 0..n-1. Returns the stages in the new order.
pub async fn reorder_stages(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    pipeline_id: Uuid,
    input: ReorderStages,
) -> Result<Vec<Stage>, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    conn.transaction(async |conn| {
        find_pipeline(conn, pipeline_id, true).await?;
        let current = stages_of(conn, pipeline_id).await?;
        let current_ids: Vec<Uuid> = current.iter().map(|s| s.id).collect();
        let wanted: HashSet<Uuid> = input.stage_ids.iter().copied().collect();
        let known: HashSet<Uuid> = current_ids.iter().copied().collect();
        if wanted.len() != input.stage_ids.len() || wanted != known {
            return Err(FieldError::new(
                "stageIds",
                "must list every stage id of the pipeline exactly once",
            )
            .into());
        }
        if input.stage_ids != current_ids {
            let positions: Vec<i32> = (0..input.stage_ids.len())
                .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
                .collect();
            diesel::sql_query(
                "UPDATE stages AS s SET position = v.pos, updated_at = $1, \
                        version = s.version + 1 \
                 FROM unnest($2::uuid[], $3::int4[]) AS v (id, pos) \
                 WHERE s.id = v.id AND s.position IS DISTINCT FROM v.pos",
            )
            .bind::<Timestamptz, _>(Utc::now())
            .bind::<Array<diesel::sql_types::Uuid>, _>(&input.stage_ids)
            .bind::<Array<Int4>, _>(&positions)
            .execute(conn)
            .await?;
            record(
                conn,
                actor,
                EntityKind::Pipeline,
                pipeline_id,
                "stage.reordered",
                &[Change {
                    field: "stageIds".into(),
                    from: json!(current_ids),
                    to: json!(input.stage_ids),
                }],
            )
            .await?;
        }
        Ok(stages_of(conn, pipeline_id).await?)
    })
    .await
}
