//! Deals moved in bulk by a change of their stage or pipeline: a stage or pipeline deleted
//! with `moveDealsTo`, a stage whose type changes. The stage side of each is crm-pipelines'
//! (`lock_stage_for_deletion`, `remove_stage`, ...); the deal side follows the rules of a
//! single move exactly: status from the stage type, [`closed_at_for`], the same activity
//! entries and events from one diff per deal ([`record_updates`]). One statement moves the
//! deals, however many; their entries and events are appended a few thousand rows a statement.

use crate::placement::STEP;
use chrono::Utc;
use crm_core::Actor;
use crm_core::{DealId, PipelineId, StageId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{deals, stages};
use crm_pipelines::{DealsMoved, PipelineError, Stage, StageInfo, UpdateStage};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::error::DealError;
use crate::input::DealStatus;
use crate::model::{Deal, DealRow};
use crate::service::{closed_at_for, record_updates};

/// Locks the deals of `stage_ids` (and any other deal of `pipeline`), trashed ones included,
/// in board order. The stage rows are locked by the caller already.
async fn lock_deals_on(
    conn: &mut AsyncPgConnection,
    stage_ids: &[StageId],
    pipeline: Option<PipelineId>,
) -> Result<Vec<DealRow>, DealError> {
    Ok(deals::table
        .inner_join(stages::table)
        .filter(
            deals::stage_id
                .eq_any(stage_ids)
                .or(deals::pipeline_id.nullable().eq(pipeline)),
        )
        .order((
            stages::position.asc(),
            deals::position.asc(),
            deals::created_at.asc(),
            deals::id.asc(),
        ))
        .select(DealRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Puts `held` on `target`: stage, pipeline, status and `closedAt` follow the target. With
/// `append` they go after the target's last deal keeping their order; otherwise their keys
/// stay. Deals that would not change are left alone. Returns how many changed.
async fn place(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    held: Vec<DealRow>,
    target: &StageInfo,
    append: bool,
) -> Result<usize, DealError> {
    // Trashed deals of the target keep their keys and may come back: stay clear of them too.
    let base: i64 = if append && !held.is_empty() {
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
    let status = DealStatus::from(target.kind);
    let mut before = Vec::new();
    let (mut ids, mut positions, mut closed) = (Vec::new(), Vec::new(), Vec::new());
    for (i, row) in held.into_iter().enumerate() {
        let position = if append {
            base.saturating_add(i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(STEP))
        } else {
            row.position
        };
        let closed_at = closed_at_for(row.status, row.closed_at, status, now);
        let unchanged = row.stage_id == target.id
            && row.pipeline_id == target.pipeline_id
            && row.status == status
            && row.position == position
            && row.closed_at == closed_at;
        if unchanged {
            continue;
        }
        ids.push(row.id);
        positions.push(position);
        closed.push(closed_at);
        before.push(Deal::from(row));
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let after: Vec<DealRow> = diesel::sql_query(
        "UPDATE deals AS d SET stage_id = $1, pipeline_id = $2, status = $3, \
                position = v.pos, closed_at = v.closed_at, updated_at = $4, \
                version = d.version + 1 \
         FROM unnest($5::uuid[], $6::int8[], $7::timestamptz[]) AS v (id, pos, closed_at) \
         WHERE d.id = v.id \
         RETURNING d.*",
    )
    .bind::<diesel::sql_types::Uuid, _>(target.id)
    .bind::<diesel::sql_types::Uuid, _>(target.pipeline_id)
    .bind::<Text, _>(status.as_str())
    .bind::<Timestamptz, _>(now)
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&positions)
    .bind::<Array<Nullable<Timestamptz>>, _>(&closed)
    .load(conn)
    .await?;
    let mut after: Vec<Deal> = after.into_iter().map(Deal::from).collect();
    // RETURNING comes in no particular order; the activity and events follow board order.
    let order: std::collections::HashMap<DealId, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    after.sort_by_key(|d| order.get(&d.id).copied().unwrap_or(usize::MAX));
    record_updates(conn, actor, before.iter().zip(&after)).await?;
    Ok(ids.len())
}

/// What holds deals on a board and can be deleted: a stage or a whole pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealHolder {
    /// A stage; never a pipeline's last one.
    Stage(StageId),
    /// A pipeline with its stages; never the default one.
    Pipeline(PipelineId),
}

/// A holder locked for deletion.
enum Locked {
    Stage(Stage),
    Pipeline(PipelineId),
}

/// Deletes a stage or a pipeline for good (`pipelines.manage`). While it holds deals (trashed
/// ones included) it is refused (`stage_in_use`, `pipeline_in_use`) unless `move_deals_to`
/// names where they go: another stage for a stage (of any pipeline), a stage of another
/// pipeline for a pipeline. They go to the end of that stage first, in their board order, each
/// as after a single move. A deleted stage's later stages move up one place.
pub async fn delete_holder(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    holder: DealHolder,
    move_deals_to: Option<StageId>,
    expected_version: Option<i32>,
) -> Result<(), DealError> {
    conn.transaction(async |conn| {
        let (locked, stage_ids, pipeline) = match holder {
            DealHolder::Stage(id) => {
                let stage =
                    crm_pipelines::lock_stage_for_deletion(conn, actor, id, expected_version)
                        .await?;
                (Locked::Stage(stage), vec![id], None)
            }
            DealHolder::Pipeline(id) => {
                let stages =
                    crm_pipelines::lock_pipeline_for_deletion(conn, actor, id, expected_version)
                        .await?;
                (Locked::Pipeline(id), stages, Some(id))
            }
        };
        let target = match move_deals_to {
            Some(t) => {
                let target = crm_pipelines::lock_move_target(conn, t).await?;
                let unfit =
                    match holder {
                        DealHolder::Stage(id) => (target.id == id)
                            .then_some("must be another stage than the one deleted"),
                        DealHolder::Pipeline(id) => (target.pipeline_id == id)
                            .then_some("must be a stage of another pipeline"),
                    };
                if let Some(why) = unfit {
                    return Err(PipelineError::InvalidMoveTarget(why).into());
                }
                Some(target)
            }
            None => None,
        };
        let held = lock_deals_on(conn, &stage_ids, pipeline).await?;
        let moved = match (held.len(), target) {
            (0, _) => None,
            (count, Some(target)) => {
                place(conn, actor, held, &target, true).await?;
                Some(DealsMoved {
                    to: target.id,
                    count,
                })
            }
            (count, None) => {
                let count = i64::try_from(count).unwrap_or(i64::MAX);
                return Err(match holder {
                    DealHolder::Stage(_) => PipelineError::StageInUse(count),
                    DealHolder::Pipeline(_) => PipelineError::PipelineInUse(count),
                }
                .into());
            }
        };
        match locked {
            Locked::Stage(stage) => crm_pipelines::remove_stage(conn, actor, &stage, moved).await?,
            Locked::Pipeline(id) => crm_pipelines::remove_pipeline(conn, actor, id, moved).await?,
        }
        Ok(())
    })
    .await
}

/// Changes a stage (`pipelines.manage`). A new type re-derives the status and `closedAt` of
/// every deal on the stage (trashed ones included), in the same transaction and by the rule of
/// a single move; their keys stay.
pub async fn update_stage(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: StageId,
    input: UpdateStage,
    expected_version: Option<i32>,
) -> Result<Stage, DealError> {
    let kind_given = input.kind.is_some();
    conn.transaction(async |conn| {
        let stage = crm_pipelines::update_stage(conn, actor, id, input, expected_version).await?;
        if kind_given {
            // Deals whose status already matches the type have nothing to re-derive.
            let status = DealStatus::from(stage.kind);
            let held: Vec<DealRow> = lock_deals_on(conn, &[id], None)
                .await?
                .into_iter()
                .filter(|d| d.status != status)
                .collect();
            place(conn, actor, held, &stage.info(), false).await?;
        }
        Ok(stage)
    })
    .await
}
