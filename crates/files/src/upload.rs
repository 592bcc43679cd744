//! One upload in progress: the bytes go to storage as they arrive, hashed and counted, and the
//! first few kilobytes are kept to tell the content type. Memory per upload is bounded by the
//! part size times the parts in flight, whatever the file's size.

use bytes::Bytes;
use crm_core::FileId;
use object_store::buffered::BufWriter;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::FileError;
use crate::storage::Storage;

/// Bytes written to storage per part (S3's smallest multipart part is 5 MiB).
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts uploaded at once.
const PARTS_IN_FLIGHT: usize = 2;
/// How much of the start of a file the type sniffer sees.
const SNIFF_BYTES: usize = 8192;
/// Chunks waiting for the hasher.
const CHUNKS_TO_HASH: usize = 16;

/// What was stored: the object's id, size, digest and sniffed type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The id the object is stored under (and the file's id).
    pub id: FileId,
    /// Bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// The content type told by the bytes.
    pub content_type: String,
}

/// An upload into storage, written chunk by chunk. Finish it or abort it: an upload dropped
/// half-way leaves at most an incomplete multipart upload, never an object under the key.
pub struct Upload {
    storage: Storage,
    id: FileId,
    writer: BufWriter,
    hasher: Hasher,
    size: u64,
    limit: u64,
    head: Vec<u8>,
}

impl Upload {
    /// Starts an upload of at most `limit` bytes under a new id.
    pub fn begin(storage: &Storage, limit: u64) -> Self {
        let id = FileId::new();
        let writer = BufWriter::with_capacity(storage.store(), storage.key(id), PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        Self {
            storage: storage.clone(),
            id,
            writer,
            hasher: Hasher::start(),
            size: 0,
            limit,
            head: Vec::new(),
        }
    }

    /// The id the object will have.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// Appends a chunk. `TooLarge` as soon as the limit is crossed (abort the upload then).
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), FileError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(FileError::TooLarge(self.limit));
        }
        self.hasher.update(chunk.clone()).await?;
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.writer.put(chunk).await?;
        Ok(())
    }

    /// Completes the object.
    pub async fn finish(mut self) -> Result<StoredObject, FileError> {
        if let Err(e) = self.writer.shutdown().await {
            // A writer that failed to finish cannot be aborted; whatever reached storage goes.
            self.remove_object().await;
            return Err(FileError::Storage(object_store::Error::Generic {
                store: "upload",
                source: Box::new(e),
            }));
        }
        let sha256 = match self.hasher.finish().await {
            Ok(digest) => digest,
            Err(e) => {
                self.remove_object().await;
                return Err(e);
            }
        };
        Ok(StoredObject {
            id: self.id,
            size: self.size,
            sha256,
            content_type: sniff(&self.head),
        })
    }

    /// Gives the upload up, removing whatever reached storage.
    pub async fn abort(mut self) {
        if let Err(e) = self.writer.abort().await {
            tracing::warn!(error = %e, file = %self.id, "multipart upload not aborted");
        }
        self.remove_object().await;
    }

    async fn remove_object(&self) {
        if let Err(e) = self.storage.remove(self.id).await {
            // The sweep of orphans removes it later.
            tracing::warn!(error = %e, file = %self.id, "a failed upload left an object");
        }
    }
}

/// SHA-256 of an upload, computed on a blocking thread beside the task that receives and
/// stores the bytes: hashing a large file is as much work as moving it.
struct Hasher {
    chunks: Option<tokio::sync::mpsc::Sender<Bytes>>,
    digest: tokio::task::JoinHandle<String>,
}

impl Hasher {
    fn start() -> Self {
        let (chunks, mut incoming) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_TO_HASH);
        let digest = tokio::task::spawn_blocking(move || {
            let mut hasher = Sha256::new();
            while let Some(chunk) = incoming.blocking_recv() {
                hasher.update(&chunk);
            }
            hex::encode(hasher.finalize())
        });
        Self {
            chunks: Some(chunks),
            digest,
        }
    }

    async fn update(&mut self, chunk: Bytes) -> Result<(), FileError> {
        let sent = match &self.chunks {
            Some(chunks) => chunks.send(chunk).await.is_ok(),
            None => false,
        };
        if sent { Ok(()) } else { Err(hasher_gone()) }
    }

    async fn finish(&mut self) -> Result<String, FileError> {
        drop(self.chunks.take());
        (&mut self.digest).await.map_err(|_| hasher_gone())
    }
}

fn hasher_gone() -> FileError {
    FileError::Storage(object_store::Error::Generic {
        store: "upload",
        source: "the hashing thread stopped".into(),
    })
}

/// The content type told by the first bytes of a file: a known signature, else UTF-8 text
/// without NULs, else `application/octet-stream`.
pub fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A character cut at the end of the sniffed window is still text.
        Err(e) => e.error_len().is_none(),
    };
    if !head.is_empty() && text && !head.contains(&0) {
        "text/plain; charset=utf-8".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff("привет".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(
            sniff(&"привет".as_bytes()[..5]),
            "text/plain; charset=utf-8"
        );
        assert_eq!(sniff(b"\0\x01\x02"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
    }
}
