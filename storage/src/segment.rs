//! Segments: immutable, sorted, zstd-compressed Parquet files.
//!
//! A flush turns a table's buffered batches into one file per UTC-day
//! partition, rows sorted by (attribute columns, time). Timestamps are
//! delta-encoded, floats byte-stream-split or stored as scaled integers
//! (see [`crate::encoding`]), attributes dictionary-encoded. Files are
//! written to a temporary name, fsynced and renamed, so a file that a
//! manifest names is always complete.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, TimestampNanosecondArray, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};

use crate::encoding::{self, EncodingOptions};
use crate::error::{Error, Result};
use crate::manifest::{sync_dir, write_durably, SegmentMeta};
use crate::schema::{is_attribute, TIME};

/// Nanoseconds in a UTC day (the partition length).
pub const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Where segment files live. Local directory today; reads go through
/// `object_store` so a remote store can replace it.
#[derive(Debug, Clone)]
pub struct SegmentStore {
    root: PathBuf,
    object_store: Arc<dyn ObjectStore>,
}

impl SegmentStore {
    /// A store rooted at a local directory (created if missing).
    pub fn local(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let object_store = LocalFileSystem::new_with_prefix(root)?;
        Ok(Self { root: root.to_path_buf(), object_store: Arc::new(object_store) })
    }

    /// The object store that serves segment reads; paths are [`SegmentMeta::path`].
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.object_store.clone()
    }

    /// The final and temporary paths of segment `rel`, with its partition
    /// directory created (and made durable in its parent when new).
    fn prepare(&self, rel: &str) -> Result<(PathBuf, PathBuf)> {
        let dst = self.root.join(rel);
        let dir = dst.parent().unwrap_or(&self.root).to_path_buf();
        let created = !dir.exists();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        if created {
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let tmp = dst.with_extension("parquet.tmp");
        Ok((dst, tmp))
    }

    /// Durably write a segment file at `rel` (relative path).
    pub fn put(&self, rel: &str, data: &[u8]) -> Result<()> {
        let (dst, tmp) = self.prepare(rel)?;
        write_durably(&tmp, &dst, data)
    }

    /// Delete a segment file (missing files are fine).
    pub fn delete(&self, rel: &str) -> Result<()> {
        let p = self.root.join(rel);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(p, e)),
        }
    }

    /// Start writing a segment file at `rel` with the given file schema; the
    /// file appears under its name only when [`SegmentWriter::finish`] succeeds.
    pub fn create(&self, rel: &str, file_schema: SchemaRef, options: &EncodingOptions) -> Result<SegmentWriter> {
        let (dst, tmp) = self.prepare(rel)?;
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let props = encoding::writer_properties(&file_schema, options);
        let writer = ArrowWriter::try_new(file, file_schema, Some(props))?;
        Ok(SegmentWriter { tmp, dst, writer: Some(writer) })
    }

    /// Read a segment file in batches of `batch_size` rows, optionally only
    /// the named columns (those the file has). Batches have the file's schema.
    pub fn open_reader(
        &self,
        rel: &str,
        batch_size: usize,
        columns: Option<&[&str]>,
    ) -> Result<ParquetRecordBatchReader> {
        let path = self.root.join(rel);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
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

    /// The Arrow schema a segment file was written with.
    pub fn file_schema(&self, rel: &str) -> Result<SchemaRef> {
        let path = self.root.join(rel);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(ParquetRecordBatchReaderBuilder::try_new(file)?.schema().clone())
    }

    /// Every `.parquet` file under the root, as relative paths (for orphan cleanup).
    pub fn list_files(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out)?;
        Ok(out)
    }
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

/// A segment file being written (see [`SegmentStore::create`]). Dropped
/// without [`SegmentWriter::finish`], it removes its temporary file.
pub struct SegmentWriter {
    tmp: PathBuf,
    dst: PathBuf,
    writer: Option<ArrowWriter<File>>,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter").field("path", &self.dst).finish()
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

    /// Write the footer, fsync, rename into place, fsync the directory.
    /// Returns the file size.
    pub fn finish(mut self) -> Result<u64> {
        let Some(writer) = self.writer.take() else {
            return Err(Error::io(&self.tmp, std::io::Error::other("segment writer already finished")));
        };
        let file = writer.into_inner()?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        let bytes = file.metadata().map_err(|e| Error::io(&self.tmp, e))?.len();
        drop(file);
        std::fs::rename(&self.tmp, &self.dst).map_err(|e| Error::io(&self.dst, e))?;
        sync_dir(self.dst.parent().unwrap_or(Path::new(".")))?;
        Ok(bytes)
    }
}

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An encoded segment ready to be written.
#[derive(Debug)]
pub struct EncodedSegment {
    /// Manifest entry (with `id` and `path` filled in).
    pub meta: SegmentMeta,
    /// File contents.
    pub data: Vec<u8>,
}

/// Encode a table's rows (already shaped to `schema`) into one segment per day.
/// `next_id` hands out segment ids (shared with compaction).
pub fn encode_table(
    table: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    next_id: &AtomicU64,
) -> Result<Vec<EncodedSegment>> {
    let all = concat_batches(schema, batches)?;
    if all.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let sorted = sort_by_series_then_time(&all)?;
    let mut out = Vec::new();
    for (day, part) in split_by_day(&sorted)? {
        let id = next_id.fetch_add(1, Ordering::SeqCst);
        let partition = day_string(day);
        let path = segment_path(table, &partition, id);
        let (min_time, max_time) = crate::memtable::time_range(&part);
        let data = write_parquet(&part, &EncodingOptions::default())?;
        out.push(EncodedSegment {
            meta: SegmentMeta {
                id,
                table: table.to_string(),
                partition,
                path,
                min_time: min_time.unwrap_or(0),
                max_time: max_time.unwrap_or(0),
                rows: part.num_rows() as u64,
                bytes: data.len() as u64,
            },
            data,
        });
    }
    Ok(out)
}

/// The relative path of segment `id` of `table` in `partition`.
pub fn segment_path(table: &str, partition: &str, id: u64) -> String {
    format!("{table}/{partition}/{id:020}.parquet")
}

/// The sort key of a table-shaped batch: attribute columns in schema order, then `time`.
pub fn sort_key_columns(schema: &SchemaRef) -> Vec<usize> {
    let mut idx: Vec<usize> =
        schema.fields().iter().enumerate().filter(|(_, f)| is_attribute(f)).map(|(i, _)| i).collect();
    if let Ok(t) = schema.index_of(TIME) {
        idx.push(t);
    }
    idx
}

/// Sort rows by (attribute columns, time), keeping arrival order among equal
/// keys. Compares rows in Arrow's row format (one memcmp per comparison), the
/// same order [`crate::merge::SortedMerge`] merges by.
fn sort_by_series_then_time(batch: &RecordBatch) -> Result<RecordBatch> {
    let key = sort_key_columns(&batch.schema());
    if key.is_empty() || batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    let fields = key.iter().map(|i| SortField::new(batch.schema().field(*i).data_type().clone())).collect();
    let converter = RowConverter::new(fields)?;
    let columns: Vec<_> = key.iter().map(|i| batch.column(*i).clone()).collect();
    let rows = converter.convert_columns(&columns)?;
    if (1..rows.num_rows()).all(|i| rows.row(i - 1) <= rows.row(i)) {
        return Ok(batch.clone());
    }
    let n = u32::try_from(rows.num_rows()).map_err(|_| {
        Error::Arrow(arrow::error::ArrowError::ComputeError(format!(
            "cannot sort {} rows in one segment",
            rows.num_rows()
        )))
    })?;
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)));
    Ok(take_record_batch(batch, &UInt32Array::from(order))?)
}

fn split_by_day(batch: &RecordBatch) -> Result<Vec<(i64, RecordBatch)>> {
    let Some(ts) = batch.column_by_name(TIME).and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
    else {
        return Ok(vec![(0, batch.clone())]);
    };
    let days: Vec<i64> = ts.iter().map(|t| t.unwrap_or(0).div_euclid(NANOS_PER_DAY)).collect();
    let mut distinct = days.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() == 1 {
        return Ok(vec![(distinct[0], batch.clone())]);
    }
    distinct
        .into_iter()
        .map(|day| {
            let mask = BooleanArray::from(days.iter().map(|d| *d == day).collect::<Vec<_>>());
            Ok((day, filter_record_batch(batch, &mask)?))
        })
        .collect()
}

/// `YYYY-MM-DD` for a day number since the epoch.
pub fn day_string(day: i64) -> String {
    // Civil-from-days (Howard Hinnant), valid for the proleptic Gregorian calendar.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn write_parquet(batch: &RecordBatch, options: &EncodingOptions) -> Result<Vec<u8>> {
    let scales = encoding::detect_scales(batch, options);
    let file_schema = encoding::file_schema(&batch.schema(), &scales);
    let file_batch = encoding::to_file_batch(batch, &file_schema)?;
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4 + 1024);
    let props = encoding::writer_properties(&file_schema, options);
    let mut w = ArrowWriter::try_new(&mut buf, file_schema, Some(props))?;
    w.write(&file_batch)?;
    w.close()?;
    Ok(buf)
}

/// Encode one table-shaped batch as a segment file with explicit encoding
/// choices (for measuring encodings; flushes use [`encode_table`]).
pub fn encode_batch_with(batch: &RecordBatch, options: &EncodingOptions) -> Result<Vec<u8>> {
    write_parquet(&sort_by_series_then_time(batch)?, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_strings() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(20_414), "2025-11-22");
        assert_eq!(day_string(-1), "1969-12-31");
        assert_eq!(day_string(11_016), "2000-02-29");
    }
}
