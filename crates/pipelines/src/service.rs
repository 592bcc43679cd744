//! Pipeline and stage use cases. Each takes the connection first (so callers compose them in
//! one transaction), then the actor, then the input. Every write is one transaction.

use std::collections::{HashMap, HashSet};

use bigdecimal::BigDecimal;
use chrono::Utc;
use crm_core::change::{Change, created, diff};
use crm_core::{Actor, EntityKind, EntityRef, FieldError, Page, Permission, PipelineId, StageId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{deals, pipelines, stages};
use crm_db::visibility;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Timestamptz};
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
    id: impl Into<Uuid>,
    event: &str,
    changes: &[Change],
) -> Result<(), PipelineError> {
    crm_activity::record(conn, actor, EntityRef::new(kind, id), event, changes).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading

async fn stages_of(
    conn: &mut AsyncPgConnection,
    pipeline_id: PipelineId,
) -> QueryResult<Vec<Stage>> {
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
    id: PipelineId,
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
    id: StageId,
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
    let ids: Vec<PipelineId> = rows.iter().map(|r| r.id).collect();
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
    let mut by_pipeline: HashMap<PipelineId, Vec<Stage>> = HashMap::new();
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
    id: PipelineId,
) -> Result<Pipeline, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    let row = find_pipeline(conn, id, false).await?;
    load_pipeline(conn, row).await
}

/// The stages of a pipeline in order (`pipelines.read`).
pub async fn list_stages(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    pipeline_id: PipelineId,
) -> Result<Vec<Stage>, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    find_pipeline(conn, pipeline_id, false).await?;
    Ok(stages_of(conn, pipeline_id).await?)
}

/// Reads a stage (`pipelines.read`).
pub async fn get_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: StageId,
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
    id: PipelineId,
) -> Result<Vec<StageSummary>, PipelineError> {
    actor.require(Permission::PipelinesRead)?;
    let stage_rows: Vec<(StageId, String, StageType)> = stages::table
        .filter(stages::pipeline_id.eq(id))
        .order((stages::position, stages::created_at, stages::id))
        .select((stages::id, stages::name, stages::kind))
        .load(conn)
        .await?;
    if stage_rows.is_empty() {
        // A pipeline always has a stage: no rows means no pipeline.
        return Err(PipelineError::PipelineNotFound(id));
    }
    let stage_ids: Vec<StageId> = stage_rows.iter().map(|(id, _, _)| *id).collect();
    let groups: Vec<(StageId, String, i64, Option<BigDecimal>)> = deals::table
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
    let mut by_stage: HashMap<StageId, (i64, Vec<CurrencyTotal>)> = HashMap::new();
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
// The stage side of moving deals in bulk (the deal side is crm-deals')

/// Deals a bulk move took off a deleted stage or pipeline, recorded on its `*.deleted` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealsMoved {
    /// The stage they went to.
    pub to: StageId,
    /// How many.
    pub count: usize,
}

fn moved_changes(moved: Option<DealsMoved>) -> Vec<Change> {
    moved
        .map(|m| Change {
            field: "dealsMovedTo".into(),
            from: Value::Null,
            to: json!({"stageId": m.to, "count": m.count}),
        })
        .into_iter()
        .collect()
}

/// The stage named by `moveDealsTo`, locked against deletion while deals move into it.
pub async fn lock_move_target(
    conn: &mut AsyncPgConnection,
    id: StageId,
) -> Result<StageInfo, PipelineError> {
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
    except: PipelineId,
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
        let id = PipelineId::new();
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
                    stages::id.eq(StageId::new()),
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
    id: PipelineId,
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

/// The first step of deleting a pipeline for good (`pipelines.manage`; never the default
/// one), in the caller's transaction: locks it and its stages and checks `expected_version`.
/// Returns its stage ids. Its deals must leave before [`remove_pipeline`]; together with that
/// move this is `crm_deals::delete_holder`.
pub async fn lock_pipeline_for_deletion(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: PipelineId,
    expected_version: Option<i32>,
) -> Result<Vec<StageId>, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    let row = find_pipeline(conn, id, true).await?;
    crm_core::check_version(expected_version, row.version)?;
    if row.is_default {
        return Err(PipelineError::DefaultPipelineRequired);
    }
    Ok(stages::table
        .filter(stages::pipeline_id.eq(id))
        .select(stages::id)
        .for_update()
        .load(conn)
        .await?)
}

/// Deletes a pipeline locked by [`lock_pipeline_for_deletion`] and emptied of deals, with its
/// stages, recording where its deals went.
pub async fn remove_pipeline(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: PipelineId,
    moved: Option<DealsMoved>,
) -> Result<(), PipelineError> {
    diesel::delete(pipelines::table.find(id))
        .execute(conn)
        .await?;
    record(
        conn,
        actor,
        EntityKind::Pipeline,
        id,
        "pipeline.deleted",
        &moved_changes(moved),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Stages

/// Adds a stage to a pipeline (`pipelines.manage`), at `position` (later stages move down
/// one place) or at the end.
pub async fn create_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    pipeline_id: PipelineId,
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
                stages::id.eq(StageId::new()),
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

/// Changes a stage (`pipelines.manage`). The status of the stage's deals follows its type:
/// `crm_deals::update_stage` wraps this with that re-derivation, and is what to call.
pub async fn update_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: StageId,
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

/// The first step of deleting a stage for good (`pipelines.manage`; never a pipeline's last
/// one), in the caller's transaction: locks its pipeline (which serialises stage deletions, so
/// two concurrent deletions of a pipeline's last two stages cannot both pass the last-stage
/// check) and the stage, and checks `expected_version`. Its deals must leave before
/// [`remove_stage`]; together with that move this is `crm_deals::delete_holder`.
pub async fn lock_stage_for_deletion(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: StageId,
    expected_version: Option<i32>,
) -> Result<Stage, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    let pipeline_id = find_stage(conn, id, false).await?.pipeline_id;
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
    Ok(row.into())
}

/// Deletes a stage locked by [`lock_stage_for_deletion`] and emptied of deals, moves the later
/// stages up one place and records where its deals went.
pub async fn remove_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    stage: &Stage,
    moved: Option<DealsMoved>,
) -> Result<(), PipelineError> {
    diesel::delete(stages::table.find(stage.id))
        .execute(conn)
        .await?;
    diesel::update(
        stages::table
            .filter(stages::pipeline_id.eq(stage.pipeline_id))
            .filter(stages::position.gt(stage.position)),
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
        stage.id,
        "stage.deleted",
        &moved_changes(moved),
    )
    .await
}

/// Puts a pipeline's stages in a new order (`pipelines.manage`): `stageIds` must be exactly
/// its stage ids, each once; positions become 0..n-1. Returns the stages in the new order.
pub async fn reorder_stages(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    pipeline_id: PipelineId,
    input: ReorderStages,
) -> Result<Vec<Stage>, PipelineError> {
    actor.require(Permission::PipelinesManage)?;
    conn.transaction(async |conn| {
        find_pipeline(conn, pipeline_id, true).await?;
        let current = stages_of(conn, pipeline_id).await?;
        let current_ids: Vec<StageId> = current.iter().map(|s| s.id).collect();
        let wanted: HashSet<StageId> = input.stage_ids.iter().copied().collect();
        let known: HashSet<StageId> = current_ids.iter().copied().collect();
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
