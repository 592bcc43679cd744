//! Whether an actor may see a record of any kind, for endpoints that hang off records
//! (activity timelines, comments, files). Answers 404 for records the actor may
//! not see, exactly as the record's own endpoint does.

use crm_core::{Actor, EntityKind, EntityRef, ErrorKind};
use crm_db::AsyncPgConnection;

use crate::problem::ApiError;

/// `Ok` when `actor` may read `entity`.
pub async fn ensure_visible(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entity: EntityRef,
) -> Result<(), ApiError> {
    match entity.kind {
        EntityKind::User => {
            crm_users::get_user(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Pipeline => {
            crm_pipelines::get_pipeline(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Stage => {
            crm_pipelines::get_stage(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Company => {
            crm_companies::get_company(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Contact => {
            crm_contacts::get_contact(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Deal => {
            crm_deals::get_deal(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Task => {
            crm_tasks::get_task(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Tag => {
            crm_tags::get_tag(conn, actor, entity.id.into()).await?;
            Ok(())
        }
        EntityKind::Comment => {
            // A comment is visible with the record it is on.
            let comment = crm_comments::get_comment(conn, actor, entity.id.into()).await?;
            let on = EntityRef::new(comment.entity_type.kind(), comment.entity_id);
            Box::pin(ensure_visible(conn, actor, on)).await
        }
        EntityKind::CustomField => {
            crm_custom_fields::get_custom_field(conn, actor, entity.id.into()).await?;
            Ok(())
        }
    }
}

/// The realtime hub's room check: a record's room is open to whoever may read the record, as
/// [`ensure_visible`] (the record's own read service) decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordRooms;

impl crm_realtime::access::RoomGate for RecordRooms {
    fn may_read<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        actor: &'a Actor,
        record: EntityRef,
    ) -> futures_util::future::BoxFuture<'a, Result<(), crm_realtime::access::Refusal>> {
        Box::pin(async move {
            ensure_visible(conn, actor, record).await.map_err(|e| {
                let kind = match e.status().as_u16() {
                    404 => ErrorKind::NotFound,
                    403 => ErrorKind::Forbidden,
                    503 => ErrorKind::Unavailable,
                    400 => ErrorKind::Invalid,
                    _ => ErrorKind::Internal,
                };
                crm_realtime::access::Refusal {
                    kind,
                    cause: e.to_string(),
                }
            })
        })
    }
}
