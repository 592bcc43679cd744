//! The realtime events of files (`file.uploaded`, `file.deleted`), appended to the room of the
//! record the file's timeline entry goes to (`deal:{id}`, `contact:{id}`, `task:{id}`; the
//! commented record for a file on a comment) in the transaction of the change. Receivers:
//! holders of `files.read` (and `comments.read` for files on comments) who may see the record.
//! Companies have no room: their files' changes are on the company's timeline only.

use crm_core::{Actor, EntityRef, Permission};
use crm_db::AsyncPgConnection;
use crm_events::{EventName, NewEvent};

use crate::error::FileError;
use crate::model::{FileHost, StoredFile};

pub(crate) async fn emit(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    name: EventName,
    timeline: EntityRef,
    file: &StoredFile,
) -> Result<(), FileError> {
    let Some((room, audience)) = crm_events::record_room(conn, timeline).await? else {
        return Ok(());
    };
    let mut audience = audience.and(Permission::FilesRead);
    if file.entity_type == FileHost::Comment {
        audience = audience.and(Permission::CommentsRead);
    }
    let payload = serde_json::to_value(file).unwrap_or_default();
    let event = NewEvent::new(name, vec![room], audience, payload);
    crm_events::append(conn, actor, vec![event]).await?;
    Ok(())
}
