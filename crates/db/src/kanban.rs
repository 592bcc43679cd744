//! Kanban order of the deals of a stage, shared by the deals and pipelines crates.
//!
//! `deals.position` is a sparse sort key, not an index: deals of a stage are ordered by
//! `(position, id)` and consecutive deals normally sit `STEP` apart, so a card dropped between
//! two others takes a key in the gap and no other row changes. Every write that changes the
//! order of a stage holds that stage's row lock, so keys are chosen without races.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::deals;

/// Distance between neighbouring keys when there is room: 2^16 bisections before a gap runs out.
pub const STEP: i64 = 65_536;

/// Key after the last non-trashed deal of `stage_id` other than `except` (`0` for an empty stage).
pub async fn end_key(
    conn: &mut AsyncPgConnection,
    stage_id: Uuid,
    except: Option<Uuid>,
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
