//! The realtime events of comments (`comment.created`, `comment.updated`,
//! `comment.deleted`), appended to the room of the commented record (`deal:{id}`,
//! `contact:{id}`, `task:{id}`) in the transaction of the change. Receivers: holders of
//! `comments.read` who may see the record (its visibility rule, read from the record).

use crm_core::{Actor, EntityRef, Permission};
use crm_db::AsyncPgConnection;
use crm_events::{Audience, EventName, NewEvent, Room};

use crate::error::CommentError;
use crate::model::Comment;

/// The room of the commented record and who may see it (with `comments.read`).
async fn room_and_audience(
    conn: &mut AsyncPgConnection,
    comment: &Comment,
) -> Result<Option<(Room, Audience)>, CommentError> {
    let record = EntityRef::new(comment.entity_type.kind(), comment.entity_id);
    Ok(crm_events::record_room(conn, record)
        .await?
        .map(|(room, audience)| (room, audience.and(Permission::CommentsRead))))
}

async fn emit(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    name: EventName,
    comment: &Comment,
) -> Result<(), CommentError> {
    let Some((room, audience)) = room_and_audience(conn, comment).await? else {
        return Ok(());
    };
    let event = NewEvent::new(
        name,
        vec![room],
        audience,
        serde_json::to_value(comment).unwrap_or_default(),
    );
    crm_events::append(conn, actor, vec![event]).await?;
    Ok(())
}

/// `comment.created`.
pub(crate) async fn created(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    comment: &Comment,
) -> Result<(), CommentError> {
    emit(conn, actor, EventName::CommentCreated, comment).await
}

/// `comment.updated`.
pub(crate) async fn updated(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    comment: &Comment,
) -> Result<(), CommentError> {
    emit(conn, actor, EventName::CommentUpdated, comment).await
}

/// `comment.deleted`, with the comment as last seen.
pub(crate) async fn deleted(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    comment: &Comment,
) -> Result<(), CommentError> {
    emit(conn, actor, EventName::CommentDeleted, comment).await
}
