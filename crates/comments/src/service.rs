//! Comment use cases. Each takes the connection first (so callers compose them in one
//! transaction), then the actor, then the input.

use chrono::Utc;
use crm_core::{
    Actor, Change, CommentId, Cursor, CursorPage, EntityRef, FieldError, Page, PageRequest,
    Permission,
};
use crm_db::AsyncPgConnection;
use crm_db::schema::{comments, contacts, deals, tasks};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use garde::Validate;
use serde_json::Value;
use uuid::Uuid;

use crate::error::CommentError;
use crate::model::{Comment, CommentRow, CommentTarget, CreateComment, UpdateComment};

fn validate(input: &impl Validate<Context = ()>) -> Result<(), CommentError> {
    input
        .validate()
        .map_err(|report| CommentError::Invalid(FieldError::from_garde(&report)))
}

/// `Ok` when the record exists and is not in the trash.
async fn check_entity(
    conn: &mut AsyncPgConnection,
    target: CommentTarget,
    id: Uuid,
) -> Result<(), CommentError> {
    let n: i64 = match target {
        CommentTarget::Deal => {
            deals::table
                .filter(deals::id.eq(id))
                .filter(deals::deleted_at.is_null())
                .count()
                .get_result(conn)
                .await?
        }
        CommentTarget::Contact => {
            contacts::table
                .filter(contacts::id.eq(id))
                .filter(contacts::deleted_at.is_null())
                .count()
                .get_result(conn)
                .await?
        }
        CommentTarget::Task => {
            tasks::table
                .filter(tasks::id.eq(id))
                .filter(tasks::deleted_at.is_null())
                .count()
                .get_result(conn)
                .await?
        }
    };
    if n == 0 {
        Err(CommentError::UnknownEntity(target.as_str(), id))
    } else {
        Ok(())
    }
}

fn parent(comment: &Comment) -> EntityRef {
    EntityRef::new(comment.entity_type.kind(), comment.entity_id)
}

fn content_change(from: Option<&str>, to: Option<&str>) -> Change {
    let v = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_owned()));
    Change {
        field: "content".into(),
        from: v(from),
        to: v(to),
    }
}

fn is_author(actor: &Actor, row: &CommentRow) -> bool {
    row.author_id.is_some() && row.author_id == actor.user_id
}

async fn load(conn: &mut AsyncPgConnection, id: CommentId) -> Result<CommentRow, CommentError> {
    comments::table
        .find(id)
        .select(CommentRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(CommentError::NotFound(id))
}

/// Comments on a record, oldest first (`comments.read`), offset-paged. The caller must have
/// checked that the actor may see the record.
pub async fn list_comments(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    target: CommentTarget,
    entity_id: Uuid,
    page: PageRequest,
) -> Result<Page<Comment>, CommentError> {
    actor.require(Permission::CommentsRead)?;
    let base = || {
        comments::table
            .filter(comments::entity_type.eq(target.as_str()))
            .filter(comments::entity_id.eq(entity_id))
    };
    let total: i64 = base().count().get_result(conn).await?;
    let rows: Vec<CommentRow> = base()
        .order((comments::created_at.asc(), comments::id.asc()))
        .limit(page.limit)
        .offset(page.offset())
        .select(CommentRow::as_select())
        .load(conn)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(Comment::from).collect(),
        page: page.page,
        limit: page.limit,
        total,
    })
}

/// Comments on a record, oldest first (`comments.read`), keyset-paged after `cursor`. The
/// caller must have checked that the actor may see the record.
pub async fn list_comments_cursor(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    target: CommentTarget,
    entity_id: Uuid,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<CursorPage<Comment>, CommentError> {
    actor.require(Permission::CommentsRead)?;
    let mut query = comments::table
        .filter(comments::entity_type.eq(target.as_str()))
        .filter(comments::entity_id.eq(entity_id))
        .into_boxed();
    if let Some(c) = cursor {
        query = query.filter(
            comments::created_at
                .gt(c.t)
                .or(comments::created_at.eq(c.t).and(comments::id.gt(c.id))),
        );
    }
    let rows: Vec<CommentRow> = query
        .order((comments::created_at.asc(), comments::id.asc()))
        .limit(limit + 1)
        .select(CommentRow::as_select())
        .load(conn)
        .await?;
    let page = CursorPage::from_rows(rows, limit, |r| Cursor {
        t: r.created_at,
        id: r.id.into(),
    });
    Ok(page.map(Comment::from))
}

/// Reads a comment (`comments.read`). The caller must check that the actor may see the record
/// it is on.
pub async fn get_comment(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CommentId,
) -> Result<Comment, CommentError> {
    actor.require(Permission::CommentsRead)?;
    comments::table
        .find(id)
        .select(CommentRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Comment::from)
        .ok_or(CommentError::NotFound(id))
}

/// Comments on a record that exists and is not in the trash (`comments.write`); the record's
/// timeline gets `comment.created`.
pub async fn create_comment(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreateComment,
) -> Result<Comment, CommentError> {
    actor.require(Permission::CommentsWrite)?;
    validate(&input)?;
    conn.transaction(async |conn| {
        check_entity(conn, input.entity_type, input.entity_id).await?;
        let now = Utc::now();
        let row: CommentRow = diesel::insert_into(comments::table)
            .values((
                comments::id.eq(CommentId::new()),
                comments::entity_type.eq(input.entity_type.as_str()),
                comments::entity_id.eq(input.entity_id),
                comments::author_id.eq(actor.user_id),
                comments::kind.eq(input.kind.as_str()),
                comments::content.eq(&input.content),
                comments::created_at.eq(now),
                comments::updated_at.eq(now),
            ))
            .returning(CommentRow::as_returning())
            .get_result(conn)
            .await?;
        let comment = Comment::from(row);
        crm_activity::record(
            conn,
            actor,
            parent(&comment),
            "comment.created",
            &[content_change(None, Some(&comment.content))],
        )
        .await?;
        crate::events::created(conn, actor, &comment).await?;
        Ok(comment)
    })
    .await
}

/// Changes one's own comment (`comments.write`; others get `NotAuthor`); the record's
/// timeline gets `comment.updated`.
pub async fn update_comment(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CommentId,
    input: UpdateComment,
    expected_version: Option<i32>,
) -> Result<Comment, CommentError> {
    actor.require(Permission::CommentsWrite)?;
    validate(&input)?;
    conn.transaction(async |conn| {
        let row = load(conn, id).await?;
        if !is_author(actor, &row) {
            return Err(CommentError::NotAuthor);
        }
        crm_core::check_version(expected_version, row.version)?;
        let before = Comment::from(row);
        let updated: CommentRow = diesel::update(comments::table.find(id))
            .set((
                comments::content.eq(input.content.as_deref().unwrap_or(&before.content)),
                comments::kind.eq(input.kind.unwrap_or(before.kind).as_str()),
                comments::updated_at.eq(Utc::now()),
                comments::version.eq(comments::version + 1),
            ))
            .returning(CommentRow::as_returning())
            .get_result(conn)
            .await?;
        let after = Comment::from(updated);
        let mut changes = Vec::new();
        if before.content != after.content {
            changes.push(content_change(Some(&before.content), Some(&after.content)));
        }
        if before.kind != after.kind {
            changes.push(Change {
                field: "type".into(),
                from: Value::String(before.kind.as_str().into()),
                to: Value::String(after.kind.as_str().into()),
            });
        }
        crm_activity::record(conn, actor, parent(&after), "comment.updated", &changes).await?;
        crate::events::updated(conn, actor, &after).await?;
        Ok(after)
    })
    .await
}

/// Deletes a comment for good: one's own (`comments.write`) or anyone's (`comments.delete`);
/// the record's timeline gets `comment.deleted`.
pub async fn delete_comment(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: CommentId,
    expected_version: Option<i32>,
) -> Result<(), CommentError> {
    conn.transaction(async |conn| {
        let row = load(conn, id).await?;
        if is_author(actor, &row) {
            actor.require(Permission::CommentsWrite)?;
        } else {
            actor.require(Permission::CommentsDelete)?;
        }
        crm_core::check_version(expected_version, row.version)?;
        diesel::delete(comments::table.find(id))
            .execute(conn)
            .await?;
        let comment = Comment::from(row);
        crm_activity::record(
            conn,
            actor,
            parent(&comment),
            "comment.deleted",
            &[content_change(Some(&comment.content), None)],
        )
        .await?;
        crate::events::deleted(conn, actor, &comment).await?;
        Ok(())
    })
    .await
}
