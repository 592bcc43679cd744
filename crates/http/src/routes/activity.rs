//! `/api/activity`: a record's timeline, or the organisation-wide feed.

use actix_web::{HttpResponse, get, web};
use crm_activity::Activity;
use crm_core::{EntityKind, EntityRef, FieldError, UserId};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::envelope::{CursorList, cursor_list};
use crate::extract::AuthActor;
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::visibility::ensure_visible;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_activity);
}

/// The filters of `GET /api/activity`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityFilters {
    /// Kind of record (with `entityId`: that record's timeline; alone: a filter of the feed).
    pub entity_type: Option<EntityKind>,
    /// Id of the record.
    pub entity_id: Option<Uuid>,
    /// Only entries by this user (feed only).
    pub actor_id: Option<Uuid>,
}

impl ListFilters for ActivityFilters {
    const SPEC: ListSpec = ListSpec {
        page: false,
        cursor: true,
        ..ListSpec::PAGED
    };
}

/// With `entityType` + `entityId`: that record's timeline, newest first (`activity.read` and
/// the right to see the record). Without `entityId`: every entry (`logs.read`). Keyset-paged.
#[utoipa::path(get, path = "/activity", tag = "activity", params(ListQuery<ActivityFilters>), security(("bearer" = [])), responses(
    (status = 200, body = CursorList<Activity>),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "`entityId` names no record the caller may read"),
))]
#[get("/activity")]
async fn list_activity(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<ActivityFilters>,
) -> Result<HttpResponse, ApiError> {
    let q = query.filters;
    let (cursor, limit) = (query.list.cursor.flatten(), query.list.page.limit);
    let mut conn = state.conn().await?;
    let page = match (q.entity_type, q.entity_id) {
        (Some(kind), Some(id)) => {
            if q.actor_id.is_some() {
                return Err(ApiError::invalid(vec![FieldError::new(
                    "actorId",
                    "applies to the feed only",
                )]));
            }
            let entity = EntityRef::new(kind, id);
            ensure_visible(&mut conn, &actor.0, entity).await?;
            crm_activity::list_for_entity(&mut conn, &actor.0, entity, cursor, limit).await?
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(vec![FieldError::new(
                "entityType",
                "is required with entityId",
            )]));
        }
        (kind, None) => {
            crm_activity::feed(
                &mut conn,
                &actor.0,
                kind,
                q.actor_id.map(UserId),
                cursor,
                limit,
            )
            .await?
        }
    };
    Ok(cursor_list(page))
}
