//! Choosing a deal's sort key for a place (a 0-based index) inside a stage.
//!
//! `deals.position` is a sparse sort key, not an index: deals of a stage are ordered by
//! `(position, id)` and consecutive deals normally sit `STEP` apart. A deal dropped at index `i`
//! takes a key between the deals now at `i - 1` and `i`, so a move normally writes one row.
//! Only when repeated drops into the same spot have used up a gap are some neighbours
//! respaced: the smallest window around the spot (doubling from 16 rows) whose bounding keys
//! leave room for all of them, so the work stays proportional to the crowding, not to the
//! size of the stage. Every write that changes the order of a stage holds that stage's row
//! lock, so keys are chosen without races.

use crm_core::{DealId, StageId};
use crm_db::AsyncPgConnection;
use crm_db::schema::deals;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use diesel_async::RunQueryDsl;

use crate::error::DealError;
use crate::model::DealRow;

/// Where a deal goes: its key, and the neighbours whose keys were respaced to make room (each
/// as it is now, with its key before), so callers can tell live boards.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    pub key: i64,
    pub respaced: Vec<(DealRow, i64)>,
}

impl From<i64> for Placement {
    fn from(key: i64) -> Self {
        Self {
            key,
            respaced: Vec::new(),
        }
    }
}

/// Smallest distance a respaced window leaves between neighbours.
const MIN_GAP: i64 = 1024;
/// Distance between neighbouring keys when there is room: 2^16 bisections before a gap runs out.
pub const STEP: i64 = 65_536;

/// Key after the last non-trashed deal of `stage_id` other than `except` (`0` for an empty stage).
pub(crate) async fn end_key(
    conn: &mut AsyncPgConnection,
    stage_id: StageId,
    except: Option<DealId>,
) -> QueryResult<i64> {
    let mut query = deals::table
        .filter(deals::stage_id.eq(stage_id))
        .filter(deals::deleted_at.is_null())
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(deals::id.ne(id));
    }
    let last: Option<i64> = query
        .select(diesel::dsl::max(deals::position))
        .first(conn)
        .await?;
    Ok(last.map_or(0, |k| k.saturating_add(STEP)))
}

/// Rows on each side of the spot in the first respacing window.
const FIRST_HALF_WINDOW: i64 = 8;

/// `limit` deals of the stage in board order from `offset`, without `except`.
async fn slice(
    conn: &mut AsyncPgConnection,
    stage_id: StageId,
    except: DealId,
    offset: i64,
    limit: i64,
) -> Result<Vec<(DealId, i64)>, DealError> {
    Ok(deals::table
        .filter(deals::stage_id.eq(stage_id))
        .filter(deals::deleted_at.is_null())
        .filter(deals::id.ne(except))
        .order((deals::position.asc(), deals::id.asc()))
        .select((deals::id, deals::position))
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await?)
}

/// The key that puts `deal` at `index` among the other deals of `stage_id` (beyond the end:
/// last). `current` is the deal's key when it already sits on that stage: kept when it is
/// already in the right place, so a no-op move writes nothing.
pub(crate) async fn key_at_index(
    conn: &mut AsyncPgConnection,
    stage_id: StageId,
    deal: DealId,
    index: i64,
    current: Option<i64>,
) -> Result<Placement, DealError> {
    let index = index.max(0);
    let (prev, next) = if index == 0 {
        (
            None,
            slice(conn, stage_id, deal, 0, 1).await?.into_iter().next(),
        )
    } else {
        let mut rows = slice(conn, stage_id, deal, index - 1, 2).await?.into_iter();
        match (rows.next(), rows.next()) {
            // Past the end.
            (None, _) => return Ok(end_key(conn, stage_id, Some(deal)).await?.into()),
            neighbours => neighbours,
        }
    };
    let (prev, next) = (prev.map(|r| r.1), next.map(|r| r.1));
    if let Some(k) = current
        && prev.is_none_or(|p| p < k)
        && next.is_none_or(|n| k < n)
    {
        return Ok(k.into());
    }
    match (prev, next) {
        (None, None) => Ok(0.into()),
        (None, Some(n)) => Ok(n.saturating_sub(STEP).into()),
        (Some(p), None) => Ok(p.saturating_add(STEP).into()),
        (Some(p), Some(n)) if n - p >= 2 => Ok((p + (n - p) / 2).into()),
        (Some(_), Some(_)) => respace(conn, stage_id, deal, index).await,
    }
}

/// Respaces the smallest window around `index` that has room, and returns the key left free
/// at `index` with the deals whose keys changed.
async fn respace(
    conn: &mut AsyncPgConnection,
    stage_id: StageId,
    deal: DealId,
    index: i64,
) -> Result<Placement, DealError> {
    let mut half = FIRST_HALF_WINDOW;
    loop {
        let lo = (index - half).max(0);
        let hi = index.saturating_add(half);
        // The window `lo..hi` plus its bounding rows on either side, when they exist.
        let from = (lo - 1).max(0);
        let rows = slice(conn, stage_id, deal, from, hi - from + 1).await?;
        let left = (lo > 0).then(|| <[_]>::first(&rows).map(|r| r.1)).flatten();
        let skip = usize::from(lo > 0);
        let window_len = usize::try_from(hi - lo).unwrap_or(usize::MAX);
        let window: Vec<(DealId, i64)> = rows.iter().skip(skip).take(window_len).copied().collect();
        let right = rows.get(skip + window_len).map(|r| r.1);
        // Slots: the window's rows with the new deal at `index - lo`.
        let at = usize::try_from(index - lo).unwrap_or(0).min(window.len());
        let slots = i64::try_from(window.len() + 1).unwrap_or(i64::MAX);
        let keys: Option<Vec<i64>> = match (left, right) {
            (Some(a), Some(b)) => {
                let gap = (b - a) / (slots + 1);
                (gap >= MIN_GAP).then(|| (1..=slots).map(|i| a + i * gap).collect())
            }
            (Some(a), None) => Some((1..=slots).map(|i| a.saturating_add(i * STEP)).collect()),
            (None, Some(b)) => Some(
                (0..slots)
                    .map(|i| b.saturating_sub((slots - i) * STEP))
                    .collect(),
            ),
            (None, None) => Some((0..slots).map(|i| i * STEP).collect()),
        };
        if let Some(keys) = keys {
            let mut slots = window;
            slots.insert(at, (deal, 0));
            let chosen = keys[at];
            let moved: Vec<(DealId, i64, i64)> = slots
                .into_iter()
                .zip(keys)
                .filter(|((id, old), new)| *id != deal && old != new)
                .map(|((id, old), new)| (id, old, new))
                .collect();
            let ids: Vec<DealId> = moved.iter().map(|m| m.0).collect();
            let keys: Vec<i64> = moved.iter().map(|m| m.2).collect();
            diesel::sql_query(
                "UPDATE deals AS d SET position = o.pos \
                 FROM unnest($1::uuid[], $2::int8[]) AS o(id, pos) \
                 WHERE d.id = o.id AND d.position <> o.pos",
            )
            .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
            .bind::<Array<BigInt>, _>(&keys)
            .execute(conn)
            .await?;
            let rows: Vec<DealRow> = deals::table
                .filter(deals::id.eq_any(&ids))
                .select(DealRow::as_select())
                .load(conn)
                .await?;
            let old_keys: std::collections::HashMap<DealId, i64> =
                moved.iter().map(|m| (m.0, m.1)).collect();
            let respaced = rows
                .into_iter()
                .filter_map(|r| {
                    let old = *old_keys.get(&r.id)?;
                    Some((r, old))
                })
                .collect();
            return Ok(Placement {
                key: chosen,
                respaced,
            });
        }
        half = half.saturating_mul(2);
    }
}
