//! Where file contents live: a local directory or an S3-compatible bucket, through
//! `object_store`. Objects are named by the file id only, so no client-given name ever reaches
//! a path.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use crm_core::FileId;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::error::FileError;

/// Bytes read from a local file per chunk of a download.
const LOCAL_CHUNK: usize = 256 * 1024;

/// The bytes `range` of a local file, in chunks of [`LOCAL_CHUNK`].
fn local_chunks(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, FileError>> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let io = |e: std::io::Error| {
        FileError::Storage(object_store::Error::Generic {
            store: "local",
            source: Box::new(e),
        })
    };
    let file = tokio::fs::File::from_std(file);
    let state = (file, range.start, range.end - range.start, false);
    futures_util::stream::try_unfold(state, move |(mut file, start, left, sought)| async move {
        if !sought {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(io)?;
        }
        if left == 0 {
            return Ok(None);
        }
        let want = left.min(LOCAL_CHUNK as u64) as usize;
        let mut buf = bytes::BytesMut::with_capacity(want);
        while buf.len() < want {
            let n = (&mut file)
                .take((want - buf.len()) as u64)
                .read_buf(&mut buf)
                .await
                .map_err(io)?;
            if n == 0 {
                return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
        let read = buf.len() as u64;
        Ok(Some((buf.freeze(), (file, start, left - read, true))))
    })
    .boxed()
}

/// A file store, cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    label: String,
}

/// An object listed by [`Storage::objects`].
#[derive(Debug, Clone)]
pub struct Listed {
    /// The file id it is stored under (`None`: an object this store did not write).
    pub id: Option<FileId>,
    /// Its key.
    pub location: Path,
    /// When it was written.
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// A part of an object being read.
pub struct Read {
    /// The bytes, streamed.
    pub body: BoxStream<'static, Result<Bytes, FileError>>,
    /// Which bytes of the object they are.
    pub range: Range<u64>,
}

impl Storage {
    /// The store at `location`: `s3://bucket/prefix` (settings from the `AWS_*` environment,
    /// then `options`, e.g. `("aws_endpoint", "http://127.0.0.1:9000")`; a plain `http://`
    /// endpoint is allowed), or a local directory (created when missing).
    pub fn open(location: &str, options: &[(String, String)]) -> Result<Self, FileError> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(FileError::Config(format!("no bucket in {location:?}")));
            }
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            let mut plain_http = std::env::var("AWS_ENDPOINT")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .is_ok_and(|e| e.starts_with("http://"));
            for (key, value) in options {
                let key: AmazonS3ConfigKey = key
                    .parse()
                    .map_err(|e| FileError::Config(format!("{key}: {e}")))?;
                if key == AmazonS3ConfigKey::Endpoint {
                    plain_http = value.starts_with("http://");
                }
                builder = builder.with_config(key, value);
            }
            if plain_http {
                builder = builder.with_allow_http(true);
            }
            let store = builder
                .build()
                .map_err(|e| FileError::Config(e.to_string()))?;
            Ok(Self {
                store: Arc::new(store),
                prefix: Path::from(prefix.trim_matches('/')),
                label: format!("s3://{bucket}/{}", prefix.trim_matches('/')),
            })
        } else {
            std::fs::create_dir_all(location)
                .map_err(|e| FileError::Config(format!("{location}: {e}")))?;
            let store = LocalFileSystem::new_with_prefix(location)
                .map_err(|e| FileError::Config(e.to_string()))?;
            Ok(Self {
                store: Arc::new(store),
                prefix: Path::default(),
                label: location.to_owned(),
            })
        }
    }

    /// The part of this store under `part` (e.g. `imports`): its objects are apart from the
    /// files' (the orphan sweep of one never looks at the other's).
    pub fn scoped(&self, part: &str) -> Self {
        Self {
            store: Arc::clone(&self.store),
            prefix: self.prefix.clone().join(part),
            label: format!("{}/{part}", self.label),
        }
    }

    /// Where the files are, for logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The key of a file's object.
    pub(crate) fn key(&self, id: FileId) -> Path {
        self.prefix.clone().join(id.to_string())
    }

    /// Reads `range` of a file's object (all of it when `None`).
    pub async fn read(&self, id: FileId, range: Option<Range<u64>>) -> Result<Read, FileError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self.store.get_opts(&self.key(id), options).await?;
        let range = got.range.clone();
        let body = match got.payload {
            // object_store reads local files 8 KiB per blocking task: a large file went at a
            // quarter of the disk's pace.
            object_store::GetResultPayload::File(file, _) => local_chunks(file, range.clone()),
            object_store::GetResultPayload::Stream(s) => s.map_err(FileError::from).boxed(),
        };
        Ok(Read { body, range })
    }

    /// The size of a file's object.
    pub async fn head(&self, id: FileId) -> Result<ObjectMeta, FileError> {
        Ok(self.store.head(&self.key(id)).await?)
    }

    /// Deletes a file's object; a missing one is not an error.
    pub async fn remove(&self, id: FileId) -> Result<(), FileError> {
        self.remove_key(&self.key(id)).await
    }

    pub(crate) async fn remove_key(&self, key: &Path) -> Result<(), FileError> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under the store's prefix, in no particular order (those of scoped parts
    /// included, with no id: only objects directly under the prefix are this store's own).
    pub fn objects(&self) -> BoxStream<'static, Result<Listed, FileError>> {
        let prefix = (!self.prefix.as_ref().is_empty()).then(|| self.prefix.clone());
        let me = self.clone();
        self.store
            .list(prefix.as_ref())
            .map_ok(move |meta| Listed {
                id: meta
                    .location
                    .filename()
                    .and_then(|name| name.parse::<FileId>().ok())
                    .filter(|id| me.key(*id) == meta.location),
                location: meta.location,
                last_modified: meta.last_modified,
            })
            .map_err(FileError::from)
            .boxed()
    }
}
