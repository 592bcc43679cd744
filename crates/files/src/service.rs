//! File use cases. Each takes the connection first (so callers compose them in one
//! transaction), then the actor. The object is written before [`attach`] and removed after
//! [`delete_file`] commits: a row never names a missing object.

use chrono::Utc;
use crm_core::{
    Actor, Change, CompanyId, ContactId, Cursor, DealId, EntityKind, EntityRef, FieldError, FileId,
    Listing, PageRequest, Permission, TaskId,
};
use crm_db::AsyncPgConnection;
use crm_db::links::linkable;
use crm_db::schema::{comments, files};
use crm_events::EventName;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::FileError;
use crate::model::{FileHost, FileRow, StoredFile, clean_name};
use crate::upload::StoredObject;

/// The record whose timeline and room a file's changes go to: the record itself, or the
/// record a comment is on. `None` when there is no such record.
async fn timeline_of(
    conn: &mut AsyncPgConnection,
    host: FileHost,
    id: Uuid,
) -> Result<Option<EntityRef>, FileError> {
    if host != FileHost::Comment {
        return Ok(Some(EntityRef::new(host.kind(), id)));
    }
    let parent: Option<(String, Uuid)> = comments::table
        .find(id)
        .select((comments::entity_type, comments::entity_id))
        .first(conn)
        .await
        .optional()?;
    Ok(parent.and_then(|(kind, parent)| {
        let kind = kind.parse::<EntityKind>().ok()?;
        Some(EntityRef::new(kind, parent))
    }))
}

/// Whether `record` is live (not in the trash) and visible to `actor`; share-locked until the
/// transaction ends, so it cannot be purged under a new file.
async fn live_and_visible(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    record: EntityRef,
) -> Result<bool, FileError> {
    let id = record.id;
    Ok(match record.kind {
        EntityKind::Deal => linkable(conn, actor, DealId(id)).await?,
        EntityKind::Contact => linkable(conn, actor, ContactId(id)).await?,
        EntityKind::Company => linkable(conn, actor, CompanyId(id)).await?,
        EntityKind::Task => linkable(conn, actor, TaskId(id)).await?,
        _ => false,
    })
}

fn file_change(file: &StoredFile, uploaded: bool) -> Change {
    let mut shown = json!({
        "id": file.id,
        "fileName": file.file_name,
        "contentType": file.content_type,
        "size": file.size,
    });
    if file.entity_type == FileHost::Comment {
        shown["commentId"] = Value::String(file.entity_id.to_string());
    }
    let (from, to) = if uploaded {
        (Value::Null, shown)
    } else {
        (shown, Value::Null)
    };
    Change {
        field: "file".into(),
        from,
        to,
    }
}

/// Attaches a stored object to a record (`files.write`, and `comments.read` for a comment)
/// under `file_name` (cleaned with [`clean_name`]). The record must be live and visible to the
/// actor, else `UnknownEntity`. Its timeline gets `file.uploaded`, its room the event. On an
/// error the caller removes the object.
pub async fn attach(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    host: FileHost,
    entity_id: Uuid,
    file_name: &str,
    object: &StoredObject,
) -> Result<StoredFile, FileError> {
    actor.require(Permission::FilesWrite)?;
    if host == FileHost::Comment {
        actor.require(Permission::CommentsRead)?;
    }
    let size = i64::try_from(object.size)
        .map_err(|_| FileError::Invalid(vec![FieldError::new("file", "too large")]))?;
    let unknown = || FileError::UnknownEntity(host.as_str(), entity_id);
    conn.transaction(async |conn| {
        let timeline = timeline_of(conn, host, entity_id)
            .await?
            .ok_or_else(unknown)?;
        if !live_and_visible(conn, actor, timeline).await? {
            return Err(unknown());
        }
        let now = Utc::now();
        let row: FileRow = diesel::insert_into(files::table)
            .values((
                files::id.eq(object.id),
                files::entity_type.eq(host.as_str()),
                files::entity_id.eq(entity_id),
                files::file_name.eq(clean_name(file_name)),
                files::content_type.eq(&object.content_type),
                files::size.eq(size),
                files::sha256.eq(&object.sha256),
                files::uploaded_by_id.eq(actor.user_id),
                files::created_at.eq(now),
                files::updated_at.eq(now),
            ))
            .returning(FileRow::as_returning())
            .get_result(conn)
            .await?;
        let file = StoredFile::from(row);
        crm_activity::record(
            conn,
            actor,
            timeline,
            "file.uploaded",
            &[file_change(&file, true)],
        )
        .await?;
        crate::events::emit(conn, actor, EventName::FileUploaded, timeline, &file).await?;
        Ok(file)
    })
    .await
}

/// The files on a record, oldest first (`files.read`), offset- or keyset-paged (`cursor`:
/// `Some(after)`). The caller must have checked that the actor may see the record.
pub async fn list_files(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    host: FileHost,
    entity_id: Uuid,
    page: &PageRequest,
    cursor: Option<Option<Cursor>>,
) -> Result<Listing<StoredFile>, FileError> {
    actor.require(Permission::FilesRead)?;
    let filtered = || {
        files::table
            .filter(files::entity_type.eq(host.as_str()))
            .filter(files::entity_id.eq(entity_id))
            .into_boxed()
    };
    let listing: Listing<FileRow> =
        crm_db::load_listing!(conn, files, FileRow, page, cursor, filtered(), |query| {
            query.order(files::created_at.asc())
        },);
    Ok(listing.map(StoredFile::from))
}

/// Reads a file's record (`files.read`). The caller must check that the actor may see the
/// record it hangs on.
pub async fn get_file(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: FileId,
) -> Result<StoredFile, FileError> {
    actor.require(Permission::FilesRead)?;
    files::table
        .find(id)
        .select(FileRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(StoredFile::from)
        .ok_or(FileError::NotFound(id))
}

/// Deletes a file's row (`files.delete`); its record's timeline gets `file.deleted`, its room
/// the event. The caller must check that the actor may see the record, and removes the object
/// (`Storage::remove`) once this has returned.
pub async fn delete_file(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: FileId,
) -> Result<StoredFile, FileError> {
    actor.require(Permission::FilesDelete)?;
    conn.transaction(async |conn| {
        let row: FileRow = diesel::delete(files::table.find(id))
            .returning(FileRow::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or(FileError::NotFound(id))?;
        let file = StoredFile::from(row);
        if let Some(timeline) = timeline_of(conn, file.entity_type, file.entity_id).await? {
            crm_activity::record(
                conn,
                actor,
                timeline,
                "file.deleted",
                &[file_change(&file, false)],
            )
            .await?;
            crate::events::emit(conn, actor, EventName::FileDeleted, timeline, &file).await?;
        }
        Ok(file)
    })
    .await
}
