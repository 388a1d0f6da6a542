//! Where segment files live: a local directory (the default) or an object
//! store (S3), behind one API.
//!
//! Writing is two steps. [`SegmentStore::create`] returns a
//! [`SegmentWriter`] that writes the Parquet file to local disk (blocking);
//! [`SegmentWriter::finish`] completes it. In a local store the file was
//! written under a temporary name, fsynced, renamed into place and the
//! directory fsynced, so a file a manifest names is always complete. In a
//! remote store the file is built in a staging directory under the data
//! directory, and [`SegmentStore::publish`] uploads it (multipart for large
//! files) and deletes the staging copy; only then may a manifest name it.
//!
//! Queries read through [`SegmentStore::object_store`]. Compaction reads its
//! inputs from local files: [`SegmentStore::fetch`] downloads a remote
//! segment to the staging directory for the duration of the job.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};

use crate::encoding::{self, EncodingOptions};
use crate::error::{Error, Result};
use crate::manifest::sync_dir;
use crate::object;

/// Uploads, downloads or deletes run at once against a remote store.
const REMOTE_CONCURRENCY: usize = 4;

#[derive(Debug, Clone)]
enum Place {
    /// Files under this directory.
    Local(PathBuf),
    /// Objects in the object store; files are built in this local directory first.
    Remote { staging: PathBuf },
}

/// The segment files: paths are [`crate::manifest::SegmentMeta::path`].
#[derive(Debug, Clone)]
pub struct SegmentStore {
    place: Place,
    object_store: Arc<dyn ObjectStore>,
}

impl SegmentStore {
    /// A store rooted at a local directory (created if missing).
    pub fn local(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let object_store = LocalFileSystem::new_with_prefix(root)?;
        Ok(Self { place: Place::Local(root.to_path_buf()), object_store: Arc::new(object_store) })
    }

    /// A store whose files are the objects `segments/{path}` under `root`,
    /// built in the local `staging` directory first. Leftovers of an earlier
    /// run in `staging` are removed (blocking).
    pub fn remote(root: Arc<dyn ObjectStore>, staging: &Path) -> Result<Self> {
        let store: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(root, "segments"));
        std::fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
        for entry in std::fs::read_dir(staging).map_err(|e| Error::io(staging, e))? {
            let path = entry.map_err(|e| Error::io(staging, e))?.path();
            if path.is_file() {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(Self { place: Place::Remote { staging: staging.to_path_buf() }, object_store: store })
    }

    /// The object store that serves segment reads; paths are [`crate::manifest::SegmentMeta::path`].
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.object_store.clone()
    }

    /// The directory of a local store (`None` for a remote one).
    pub fn local_root(&self) -> Option<&Path> {
        match &self.place {
            Place::Local(root) => Some(root),
            Place::Remote { .. } => None,
        }
    }

    /// Start writing segment `rel` with the given file schema (blocking). The
    /// segment is visible only after [`SegmentWriter::finish`] and, for a
    /// remote store, [`SegmentStore::publish`].
    pub fn create(&self, rel: &str, file_schema: SchemaRef, options: &EncodingOptions) -> Result<SegmentWriter> {
        let (tmp, dst) = match &self.place {
            Place::Local(root) => {
                let dst = root.join(rel);
                prepare_dir(root, &dst)?;
                (dst.with_extension("parquet.tmp"), Some(dst))
            }
            Place::Remote { staging } => (staging.join(staging_name(rel, "upload")), None),
        };
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let props = encoding::writer_properties(&file_schema, options);
        let writer = ArrowWriter::try_new(file, file_schema, Some(props))?;
        Ok(SegmentWriter { rel: rel.to_string(), tmp, dst, writer: Some(writer) })
    }

    /// Make a finished segment visible: a no-op for a local store (the file
    /// is in place), an upload for a remote one. Returns the file size.
    pub async fn publish(&self, mut staged: StagedFile) -> Result<u64> {
        if let Some(upload) = staged.upload.take() {
            let dst = object_store::path::Path::from(staged.rel.as_str());
            let result = object::upload_file(self.object_store.as_ref(), &upload, &dst).await;
            let _ = tokio::fs::remove_file(&upload).await;
            result?;
        }
        Ok(staged.bytes)
    }

    /// Publish several segments, a few uploads at a time; returns them in order.
    pub async fn publish_all<T: Send>(&self, staged: Vec<(T, StagedFile)>) -> Result<Vec<T>> {
        let jobs: Vec<_> = staged
            .into_iter()
            .map(|(item, file)| {
                let store = self.clone();
                async move { store.publish(file).await.map(|_| item) }
            })
            .collect();
        futures::stream::iter(jobs).buffered(REMOTE_CONCURRENCY).try_collect().await
    }

    /// A local file with the contents of segment `rel`: the file itself in a
    /// local store, a temporary download (removed on drop) in a remote one.
    pub async fn fetch(&self, rel: &str) -> Result<LocalCopy> {
        match &self.place {
            Place::Local(root) => Ok(LocalCopy { path: root.join(rel), temporary: false }),
            Place::Remote { staging } => {
                let copy = LocalCopy { path: staging.join(staging_name(rel, "download")), temporary: true };
                let src = object_store::path::Path::from(rel);
                object::download_file(self.object_store.as_ref(), &src, &copy.path).await?;
                Ok(copy)
            }
        }
    }

    /// Delete segment `rel` (a missing one is fine).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match &self.place {
            Place::Local(root) => {
                let path = root.join(rel);
                tokio::task::spawn_blocking(move || remove_local(&path)).await.map_err(join_error)?
            }
            Place::Remote { .. } => {
                object::delete(self.object_store.as_ref(), &object_store::path::Path::from(rel)).await
            }
        }
    }

    /// Delete several segments (missing ones are fine), a few at a time.
    pub async fn delete_all(&self, rels: &[String]) -> Result<()> {
        let jobs: Vec<_> = rels
            .iter()
            .map(|rel| {
                let (store, rel) = (self.clone(), rel.clone());
                async move { store.delete(&rel).await }
            })
            .collect();
        let _: Vec<()> = futures::stream::iter(jobs).buffer_unordered(REMOTE_CONCURRENCY).try_collect().await?;
        Ok(())
    }

    /// Every segment file in the store, as relative paths (for orphan
    /// cleanup); in a local store also temporary files of unfinished writes.
    pub async fn list_files(&self) -> Result<Vec<String>> {
        match &self.place {
            Place::Local(root) => {
                let root = root.clone();
                tokio::task::spawn_blocking(move || list_local(&root)).await.map_err(join_error)?
            }
            Place::Remote { .. } => Ok(object::list(self.object_store.as_ref(), None)
                .await?
                .into_iter()
                .map(|m| m.location.to_string())
                .filter(|p| p.ends_with(".parquet"))
                .collect()),
        }
    }
}

/// The `.parquet` and `.parquet.tmp` files under a local segment directory,
/// as relative paths (blocking).
pub fn list_local(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

/// Delete a local file (a missing one is fine; blocking).
pub fn remove_local(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::io("<segment file task>", std::io::Error::other(e.to_string()))
}

/// A staging file name for segment `rel` (ids make segment file names unique).
fn staging_name(rel: &str, suffix: &str) -> String {
    format!("{}.{suffix}", rel.replace('/', "__"))
}

/// Create the partition directory of `dst` (made durable in its parent when new).
fn prepare_dir(root: &Path, dst: &Path) -> Result<()> {
    let dir = dst.parent().unwrap_or(root);
    let created = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if created {
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.to_string_lossy().to_string();
            if rel.ends_with(".parquet") || rel.ends_with(".parquet.tmp") {
                out.push(rel);
            }
        }
    }
    Ok(())
}

/// Read a local segment file in batches of `batch_size` rows, optionally only
/// the named columns (those the file has). Batches have the file's schema.
pub fn open_reader(path: &Path, batch_size: usize, columns: Option<&[&str]>) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)?.with_batch_size(batch_size.max(1));
    if let Some(columns) = columns {
        // By root field (attribute names may contain dots).
        let roots: Vec<usize> = builder
            .parquet_schema()
            .root_schema()
            .get_fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| columns.contains(&f.name()))
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    Ok(builder.build()?)
}

/// The Arrow schema a local segment file was written with.
pub fn file_schema(path: &Path) -> Result<SchemaRef> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(ParquetRecordBatchReaderBuilder::try_new(file)?.schema().clone())
}

/// A segment file being written (see [`SegmentStore::create`]). Dropped
/// without [`SegmentWriter::finish`], it removes its temporary file.
pub struct SegmentWriter {
    rel: String,
    tmp: PathBuf,
    /// Final path in a local store; `None` when the file is to be uploaded.
    dst: Option<PathBuf>,
    writer: Option<ArrowWriter<File>>,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter").field("path", &self.rel).finish()
    }
}

impl SegmentWriter {
    /// Append a batch shaped to the file schema.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self.writer.as_mut() {
            Some(w) => Ok(w.write(batch)?),
            None => Err(Error::io(&self.tmp, std::io::Error::other("segment writer already finished"))),
        }
    }

    /// Write the footer. In a local store, also fsync, rename into place and
    /// fsync the directory. Blocking.
    pub fn finish(mut self) -> Result<StagedFile> {
        let Some(writer) = self.writer.take() else {
            return Err(Error::io(&self.tmp, std::io::Error::other("segment writer already finished")));
        };
        let file = writer.into_inner()?;
        let bytes = file.metadata().map_err(|e| Error::io(&self.tmp, e))?.len();
        let rel = std::mem::take(&mut self.rel);
        match self.dst.take() {
            Some(dst) => {
                file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
                drop(file);
                std::fs::rename(&self.tmp, &dst).map_err(|e| Error::io(&dst, e))?;
                sync_dir(dst.parent().unwrap_or(Path::new(".")))?;
                Ok(StagedFile { rel, bytes, upload: None })
            }
            // Not fsynced: if the process dies before the upload, the rows are still in the WAL.
            None => Ok(StagedFile { rel, bytes, upload: Some(std::mem::take(&mut self.tmp)) }),
        }
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A finished segment file, visible once [`SegmentStore::publish`]ed.
/// Dropped unpublished, it removes its staging file.
#[derive(Debug)]
pub struct StagedFile {
    rel: String,
    bytes: u64,
    /// The local file still to be uploaded.
    upload: Option<PathBuf>,
}

impl StagedFile {
    /// Size of the file in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(p) = self.upload.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A segment's contents as a local file (see [`SegmentStore::fetch`]).
#[derive(Debug)]
pub struct LocalCopy {
    path: PathBuf,
    temporary: bool,
}

impl LocalCopy {
    /// The local file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
