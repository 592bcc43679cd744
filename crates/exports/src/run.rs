//! Running an export: rows read from the export's own connection, a chunk at a time, rendered
//! and handed to the response through a bounded channel (the client's pace sets the reading
//! pace).

use std::collections::HashSet;
use std::path::PathBuf;

use bytes::Bytes;
use crm_contacts::{Contact, ListContacts};
use crm_core::{Actor, CompanyId, Permission, UserId};
use crm_custom_fields::{CustomField, CustomFieldEntity, FieldSet};
use crm_db::DbPool;
use crm_db::pool::get_conn;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

use crate::columns::{contact_cells, contact_headers};
use crate::error::ExportError;
use crate::xlsx::Sheet;

/// Rows read and rendered at a time.
const CHUNK_ROWS: usize = 1000;

/// The file an export produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV, streamed as it is read.
    Csv,
    /// XLSX, written whole (in constant memory) before it is sent.
    Xlsx,
}

/// How an export starts: `Ok(None)` for a stream of unknown length (CSV), `Ok(Some(bytes))`
/// for a file of known size (XLSX), or why it cannot run (before any byte is sent).
pub type Ready = Result<Option<u64>, ExportError>;

/// Exports the contacts `input` lists (`data.export`, `contacts.read`) into `out`, announcing
/// the start on `ready`. `url` opens the export's own connection; `work_dir` holds an XLSX
/// file while it is written.
#[allow(clippy::too_many_arguments)]
pub async fn export_contacts(
    url: String,
    pool: DbPool,
    actor: Actor,
    input: ListContacts,
    format: ExportFormat,
    work_dir: PathBuf,
    ready: oneshot::Sender<Ready>,
    out: mpsc::Sender<Result<Bytes, ExportError>>,
) {
    let mut ready = Some(ready);
    let result = run(
        url, &pool, &actor, &input, format, &work_dir, &mut ready, &out,
    )
    .await;
    if let Err(e) = result {
        match ready.take() {
            Some(ready) => {
                let _ = ready.send(Err(e));
            }
            // Too late for a problem answer: the response ends short.
            None => {
                tracing::warn!(error = %e, "an export failed after it started");
                let _ = out.send(Err(e)).await;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    url: String,
    pool: &DbPool,
    actor: &Actor,
    input: &ListContacts,
    format: ExportFormat,
    work_dir: &std::path::Path,
    ready: &mut Option<oneshot::Sender<Ready>>,
    out: &mpsc::Sender<Result<Bytes, ExportError>>,
) -> Result<(), ExportError> {
    actor
        .require(Permission::DataExport)
        .map_err(crm_contacts::ContactError::from)?;
    let custom: Vec<CustomField> = {
        let mut conn = get_conn(pool).await?;
        FieldSet::for_read(&mut conn, CustomFieldEntity::Contact)
            .await
            .map_err(crm_contacts::ContactError::from)?
            .fields()
            .iter()
            .filter(|f| f.is_active)
            .cloned()
            .collect()
    };
    let mut own = AsyncPgConnection::establish(&url)
        .await
        .map_err(|e| crm_db::DbError::Unavailable(e.to_string()))?;
    let mut rows = crm_contacts::export::export_contacts(&mut own, actor, input).await?;
    let headers = contact_headers(&custom);
    match format {
        ExportFormat::Csv => {
            if let Some(ready) = ready.take() {
                let _ = ready.send(Ok(None));
            }
            if out
                .send(Ok(Bytes::from(crate::csv::line(&headers))))
                .await
                .is_err()
            {
                return Ok(());
            }
            while let Some(chunk) = next_chunk(&mut rows).await? {
                let mut text = String::new();
                for cells in render(pool, &chunk, &custom).await? {
                    text.push_str(&crate::csv::line(&cells));
                }
                if out.send(Ok(Bytes::from(text))).await.is_err() {
                    // The client went away.
                    return Ok(());
                }
            }
            Ok(())
        }
        ExportFormat::Xlsx => {
            let path = work_dir.join(format!("export-{}.xlsx", crm_core::JobId::new()));
            tokio::fs::create_dir_all(work_dir).await?;
            let written = write_xlsx(pool, &mut rows, headers, &custom, path.clone()).await;
            let sent = match written {
                Ok(()) => send_file(&path, ready, out).await,
                Err(e) => Err(e),
            };
            let _ = tokio::fs::remove_file(&path).await;
            sent
        }
    }
}

async fn next_chunk(
    rows: &mut futures_util::stream::BoxStream<'_, Result<Contact, crm_contacts::ContactError>>,
) -> Result<Option<Vec<Contact>>, ExportError> {
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    while chunk.len() < CHUNK_ROWS {
        match rows.next().await {
            Some(row) => chunk.push(row?),
            None => break,
        }
    }
    Ok((!chunk.is_empty()).then_some(chunk))
}

/// The cells of a chunk, linked names looked up in one round trip.
async fn render(
    pool: &DbPool,
    chunk: &[Contact],
    custom: &[CustomField],
) -> Result<Vec<Vec<String>>, ExportError> {
    let companies: Vec<CompanyId> = chunk
        .iter()
        .filter_map(|c| c.company_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let owners: Vec<UserId> = chunk
        .iter()
        .filter_map(|c| c.owner_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let (names, emails) = {
        let mut conn = get_conn(pool).await?;
        crm_contacts::export::names(&mut conn, &companies, &owners).await?
    };
    Ok(chunk
        .iter()
        .map(|c| {
            let company = c
                .company_id
                .and_then(|id| names.get(&id))
                .map(String::as_str);
            let owner = c
                .owner_id
                .and_then(|id| emails.get(&id))
                .map(String::as_str);
            contact_cells(c, company, owner, custom)
        })
        .collect())
}

/// Writes every row into an XLSX file on a blocking thread, a chunk at a time.
async fn write_xlsx(
    pool: &DbPool,
    rows: &mut futures_util::stream::BoxStream<'_, Result<Contact, crm_contacts::ContactError>>,
    headers: Vec<String>,
    custom: &[CustomField],
    path: PathBuf,
) -> Result<(), ExportError> {
    let (chunks, mut incoming) = mpsc::channel::<Vec<Vec<String>>>(2);
    let writer = tokio::task::spawn_blocking(move || {
        let mut sheet = Sheet::new(headers)?;
        while let Some(chunk) = incoming.blocking_recv() {
            for cells in chunk {
                sheet.push(&cells)?;
            }
        }
        sheet.save(&path)
    });
    let fed: Result<(), ExportError> = async {
        while let Some(chunk) = next_chunk(rows).await? {
            let cells = render(pool, &chunk, custom).await?;
            if chunks.send(cells).await.is_err() {
                break;
            }
        }
        Ok(())
    }
    .await;
    drop(chunks);
    let written = writer.await.map_err(|e| ExportError::Xlsx(e.to_string()))?;
    fed.and(written)
}

/// Announces the file's size, then sends its bytes.
async fn send_file(
    path: &std::path::Path,
    ready: &mut Option<oneshot::Sender<Ready>>,
    out: &mpsc::Sender<Result<Bytes, ExportError>>,
) -> Result<(), ExportError> {
    let mut file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(Some(size)));
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if out
            .send(Ok(Bytes::copy_from_slice(&buf[..n])))
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}
