//! The realtime events of comments (`comment.created`, `comment.updated`,
//! `comment.deleted`), appended to the room of the commented record (`deal:{id}`,
//! `contact:{id}`, `task:{id}`) in the transaction of the change. Receivers: holders of
//! `comments.read` who may see the record (its visibility rule, read from the record).

use crm_core::{Actor, Permission, UserId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{contacts, deals, tasks};
use crm_events::{Audience, EventName, NewEvent, Room};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::CommentError;
use crate::model::{Comment, CommentTarget};

type People = Option<(Option<UserId>, Option<UserId>)>;

/// The room of the commented record and who may see it.
async fn room_and_audience(
    conn: &mut AsyncPgConnection,
    comment: &Comment,
) -> Result<(Room, Audience), CommentError> {
    let id = comment.entity_id;
    let (room, audience) = match comment.entity_type {
        CommentTarget::Deal => {
            let people: People = deals::table
                .find(id)
                .select((deals::created_by_id, deals::assigned_to_id))
                .first(conn)
                .await
                .optional()?;
            let (a, b) = people.unwrap_or_default();
            (Room::Deal(id.into()), Audience::deal(a, b))
        }
        CommentTarget::Contact => {
            let owner: Option<Option<UserId>> = contacts::table
                .find(id)
                .select(contacts::owner_id)
                .first(conn)
                .await
                .optional()?;
            (Room::Contact(id.into()), Audience::contact(owner.flatten()))
        }
        CommentTarget::Task => {
            let people: People = tasks::table
                .find(id)
                .select((tasks::created_by_id, tasks::assigned_to_id))
                .first(conn)
                .await
                .optional()?;
            let (a, b) = people.unwrap_or_default();
            (Room::Task(id.into()), Audience::task(a, b))
        }
    };
    Ok((room, audience.and(Permission::CommentsRead)))
}

async fn emit(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    name: EventName,
    comment: &Comment,
) -> Result<(), CommentError> {
    let (room, audience) = room_and_audience(conn, comment).await?;
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
