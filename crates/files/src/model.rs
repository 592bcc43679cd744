//! The file record and the kinds of record a file hangs on.

use chrono::{DateTime, Utc};
use crm_core::{EntityKind, FileId, UserId};
use crm_db::schema::files;
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

crm_core::named_enum! {
    /// Kinds of records that take files.
    #[derive(diesel::deserialize::FromSqlRow)]
    pub enum FileHost in "snake_case" {
        /// A deal.
        Deal,
        /// A contact.
        Contact,
        /// A company.
        Company,
        /// A task.
        Task,
        /// A comment (on a deal, contact or task).
        Comment,
    }
}

impl FileHost {
    /// The entity kind, for visibility checks.
    pub fn kind(self) -> EntityKind {
        match self {
            FileHost::Deal => EntityKind::Deal,
            FileHost::Contact => EntityKind::Contact,
            FileHost::Company => EntityKind::Company,
            FileHost::Task => EntityKind::Task,
            FileHost::Comment => EntityKind::Comment,
        }
    }
}

crm_db::stored_name!(FileHost);

/// A row of `files`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = files)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct FileRow {
    pub id: FileId,
    pub entity_type: FileHost,
    pub entity_id: Uuid,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A file as services return it and the API shows it (files are immutable: no `version`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredFile {
    /// Id.
    pub id: FileId,
    /// Kind of the record the file hangs on.
    pub entity_type: FileHost,
    /// Id of that record.
    pub entity_id: Uuid,
    /// The uploaded name, without any path and with control and path characters replaced.
    pub file_name: String,
    /// The type sniffed from the content (`application/octet-stream` when unknown); what the
    /// client claimed is not used.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Who uploaded it (`null` once the user is deleted, or for API keys).
    pub uploaded_by_id: Option<UserId>,
    /// Upload time.
    pub created_at: DateTime<Utc>,
    /// Same as `createdAt` (files do not change).
    pub updated_at: DateTime<Utc>,
}

impl From<FileRow> for StoredFile {
    fn from(r: FileRow) -> Self {
        Self {
            id: r.id,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            file_name: r.file_name,
            content_type: r.content_type,
            size: r.size,
            sha256: r.sha256,
            uploaded_by_id: r.uploaded_by_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The longest stored file name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// The name to store for an uploaded `name`: the last path component, control characters and
/// characters that mean something in paths or headers replaced by `_`, at most
/// [`MAX_NAME_BYTES`] (cut at a character boundary); `file` when nothing is left. The name is
/// only ever shown (object keys are ids), so this is about what a downloader's system makes
/// of it.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out = String::with_capacity(last.len().min(MAX_NAME_BYTES));
    for c in last.chars() {
        let c = if c.is_control() || matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*') {
            '_'
        } else {
            c
        };
        if out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim().trim_matches('.');
    if trimmed.is_empty() {
        "file".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_length() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\x\\report.pdf"), "report.pdf");
        assert_eq!(clean_name("a\r\nb\"c.txt"), "a__b_c.txt");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name("  отчёт.docx "), "отчёт.docx");
        let long = "я".repeat(300);
        let cut = clean_name(&long);
        assert!(cut.len() <= MAX_NAME_BYTES && cut.chars().all(|c| c == 'я'));
    }
}
