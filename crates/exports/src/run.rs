//! Running an export: rows read from the export's own connection, a chunk at a time, rendered
//! and handed to the response through a bounded channel (the client's pace sets the reading
//! pace).

use std::path::PathBuf;

use bytes::Bytes;
use crm_core::{Actor, Permission};
use crm_custom_fields::{CustomField, FieldSet};
use crm_db::DbPool;
use crm_db::pool::get_conn;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

use crate::error::ExportError;
use crate::kinds::{Companies, Contacts, Deals, Kind, Rows, Tasks};
use crate::lookup::{Names, Wanted};
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

/// What to export: a record type and its list's parameters.
#[derive(Debug)]
pub enum Export {
    /// `GET /api/contacts`.
    Contacts(crm_contacts::ListContacts),
    /// `GET /api/companies`.
    Companies(crm_companies::ListCompanies),
    /// `GET /api/deals`.
    Deals(crm_deals::ListDeals),
    /// `GET /api/tasks`.
    Tasks(crm_tasks::ListTasks),
}

impl Export {
    /// The file's name without extension (`contacts`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Export::Contacts(_) => Contacts::NAME,
            Export::Companies(_) => Companies::NAME,
            Export::Deals(_) => Deals::NAME,
            Export::Tasks(_) => Tasks::NAME,
        }
    }
}

/// Where an export goes: the start announced on `ready`, then the bytes into `out`.
pub struct Sink {
    /// `Ok(None)` for a stream of unknown length, `Ok(Some(size))`, or why it cannot run.
    pub ready: oneshot::Sender<Ready>,
    /// The file's bytes.
    pub out: mpsc::Sender<Result<Bytes, ExportError>>,
}

/// Exports every record `what` lists (`data.export` and the list's permission) into `sink`.
/// `url` opens the export's own connection; `work_dir` holds an XLSX file while it is written.
pub async fn export(
    url: String,
    pool: DbPool,
    actor: Actor,
    what: Export,
    format: ExportFormat,
    work_dir: PathBuf,
    sink: Sink,
) {
    let Sink { ready, out } = sink;
    let mut ready = Some(ready);
    let job = Job {
        url,
        pool: &pool,
        actor: &actor,
        format,
        work_dir: &work_dir,
        ready: &mut ready,
        out: &out,
    };
    let result = match &what {
        Export::Contacts(input) => job.run::<Contacts>(input).await,
        Export::Companies(input) => job.run::<Companies>(input).await,
        Export::Deals(input) => job.run::<Deals>(input).await,
        Export::Tasks(input) => job.run::<Tasks>(input).await,
    };
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

/// One export's settings and outlets.
struct Job<'a> {
    url: String,
    pool: &'a DbPool,
    actor: &'a Actor,
    format: ExportFormat,
    work_dir: &'a std::path::Path,
    ready: &'a mut Option<oneshot::Sender<Ready>>,
    out: &'a mpsc::Sender<Result<Bytes, ExportError>>,
}

impl Job<'_> {
    async fn run<K: Kind>(self, input: &K::Input) -> Result<(), ExportError> {
        let Job {
            url,
            pool,
            actor,
            format,
            work_dir,
            ready,
            out,
        } = self;
        actor.require(Permission::DataExport)?;
        let custom: Vec<CustomField> = {
            let mut conn = get_conn(pool).await?;
            FieldSet::for_read(&mut conn, K::ENTITY)
                .await?
                .fields()
                .iter()
                .filter(|f| f.is_active)
                .cloned()
                .collect()
        };
        let mut own = AsyncPgConnection::establish(&url)
            .await
            .map_err(|e| crm_db::DbError::Unavailable(e.to_string()))?;
        let mut rows = K::rows(&mut own, actor, input).await?;
        let headers = K::headers(&custom);
        let render = Render {
            pool,
            actor,
            custom: &custom,
        };
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
                // A chunk's text is about as long as the one before.
                let mut size = 64 * 1024;
                while let Some(chunk) = next_chunk(&mut rows).await? {
                    let mut text = String::with_capacity(size + size / 8);
                    render.csv::<K>(&chunk, &mut text).await?;
                    size = text.len();
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
                let written = write_xlsx::<K>(&render, &mut rows, headers, path.clone()).await;
                let sent = match written {
                    Ok(()) => send_file(&path, ready, out).await,
                    Err(e) => Err(e),
                };
                let _ = tokio::fs::remove_file(&path).await;
                sent
            }
        }
    }
}

/// Turns chunks of records into cells.
struct Render<'a> {
    pool: &'a DbPool,
    actor: &'a Actor,
    custom: &'a [CustomField],
}

impl Render<'_> {
    /// The names a chunk's records link to, looked up in one round trip per kind.
    async fn names<K: Kind>(&self, chunk: &[K::Record]) -> Result<Names, ExportError> {
        let mut wanted = Wanted::default();
        for record in chunk {
            K::wanted(record, &mut wanted);
        }
        let mut conn = get_conn(self.pool).await?;
        Ok(Names::load(&mut conn, self.actor, &wanted).await?)
    }

    /// A chunk's CSV lines, appended to `out`.
    async fn csv<K: Kind>(&self, chunk: &[K::Record], out: &mut String) -> Result<(), ExportError> {
        let names = self.names::<K>(chunk).await?;
        for record in chunk {
            crate::csv::line_into(out, &K::cells(record, &names, self.custom));
        }
        Ok(())
    }

    /// A chunk's cells, owned (for the XLSX writer's thread).
    async fn cells<K: Kind>(&self, chunk: &[K::Record]) -> Result<Vec<Vec<String>>, ExportError> {
        let names = self.names::<K>(chunk).await?;
        Ok(chunk
            .iter()
            .map(|r| {
                K::cells(r, &names, self.custom)
                    .into_iter()
                    .map(std::borrow::Cow::into_owned)
                    .collect()
            })
            .collect())
    }
}

async fn next_chunk<T>(rows: &mut Rows<'_, T>) -> Result<Option<Vec<T>>, ExportError> {
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    while chunk.len() < CHUNK_ROWS {
        match rows.next().await {
            Some(row) => chunk.push(row?),
            None => break,
        }
    }
    Ok((!chunk.is_empty()).then_some(chunk))
}

/// Writes every row into an XLSX file on a blocking thread, a chunk at a time.
async fn write_xlsx<K: Kind>(
    render: &Render<'_>,
    rows: &mut Rows<'_, K::Record>,
    headers: Vec<String>,
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
            let cells = render.cells::<K>(&chunk).await?;
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
