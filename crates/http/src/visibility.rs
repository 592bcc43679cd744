//! Whether an actor may see a record of any kind, for endpoints that hang off records
//! (activity timelines now; comments and files later). Answers 404 for records the actor may
//! not see, exactly as the record's own endpoint does.

use crm_core::{Actor, EntityKind, EntityRef, UserId};
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
            crm_users::get_user(conn, actor, UserId(entity.id)).await?;
            Ok(())
        }
        EntityKind::Pipeline => {
            crm_pipelines::get_pipeline(conn, actor, entity.id).await?;
            Ok(())
        }
        EntityKind::Stage => {
            crm_pipelines::get_stage(conn, actor, entity.id).await?;
            Ok(())
        }
        EntityKind::Company => {
            crm_companies::get_company(conn, actor, entity.id).await?;
            Ok(())
        }
        EntityKind::Contact => {
            crm_contacts::get_contact(conn, actor, entity.id).await?;
            Ok(())
        }
        EntityKind::Deal => {
            crm_deals::get_deal(conn, actor, entity.id).await?;
            Ok(())
        }
        EntityKind::Task => {
            crm_tasks::get_task(conn, actor, entity.id).await?;
            Ok(())
        }
        EntityKind::Tag => {
            crm_tags::get_tag(conn, actor, entity.id).await?;
            Ok(())
        }
        EntityKind::CustomField => {
            crm_custom_fields::get_custom_field(conn, actor, entity.id).await?;
            Ok(())
        }
        _ => Err(ApiError::invalid(vec![crm_core::FieldError::new(
            "entityType",
            format!("{} records have no timeline yet", entity.kind),
        )])),
    }
}
