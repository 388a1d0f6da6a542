//! Segments: immutable, sorted, zstd-compressed Parquet files.
//!
//! A flush turns a table's buffered batches into one file per UTC-day
//! partition, rows sorted by (attribute columns, time). Timestamps are
//! delta-encoded, floats byte-stream-split, attributes dictionary-encoded.
//! Files are written to a temporary name, fsynced and renamed, so a file
//! that a manifest names is always complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, TimestampNanosecondArray};
use arrow::compute::{concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch, SortColumn};
use arrow::datatypes::{DataType, SchemaRef};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::manifest::{sync_dir, write_durably, SegmentMeta};
use crate::schema::{is_attribute, TIME};

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

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

    /// Durably write a segment file at `rel` (relative path).
    pub fn put(&self, rel: &str, data: &[u8]) -> Result<()> {
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

/// An encoded segment ready to be written.
#[derive(Debug)]
pub struct EncodedSegment {
    /// Manifest entry (with `id` and `path` filled in).
    pub meta: SegmentMeta,
    /// File contents.
    pub data: Vec<u8>,
}

/// Encode a table's rows (already shaped to `schema`) into one segment per day.
/// `next_id` hands out segment ids.
pub fn encode_table(
    table: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    next_id: &mut u64,
) -> Result<Vec<EncodedSegment>> {
    let all = concat_batches(schema, batches)?;
    if all.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let sorted = sort_by_series_then_time(&all)?;
    let mut out = Vec::new();
    for (day, part) in split_by_day(&sorted)? {
        let id = *next_id;
        *next_id += 1;
        let partition = day_string(day);
        let path = format!("{table}/{partition}/{id:020}.parquet");
        let (min_time, max_time) = crate::memtable::time_range(&part);
        let data = write_parquet(&part)?;
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

fn sort_by_series_then_time(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut keys: Vec<SortColumn> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| is_attribute(f))
        .map(|(i, _)| SortColumn { values: batch.column(i).clone(), options: None })
        .collect();
    if let Some(t) = batch.column_by_name(TIME) {
        keys.push(SortColumn { values: t.clone(), options: None });
    }
    if keys.is_empty() {
        return Ok(batch.clone());
    }
    let indices = lexsort_to_indices(&keys, None)?;
    Ok(take_record_batch(batch, &indices)?)
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

/// Writer settings per column, chosen for time series.
fn writer_properties(schema: &SchemaRef) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(256 * 1024));
    for f in schema.fields() {
        let col = ColumnPath::from(f.name().as_str());
        match f.data_type() {
            DataType::Timestamp(_, _) | DataType::Int64 | DataType::UInt64 => {
                b = b.set_column_dictionary_enabled(col.clone(), false).set_column_encoding(col, Encoding::DELTA_BINARY_PACKED);
            }
            DataType::Float64 => {
                b = b.set_column_dictionary_enabled(col.clone(), false).set_column_encoding(col, Encoding::BYTE_STREAM_SPLIT);
            }
            _ => {}
        }
    }
    b.build()
}

fn write_parquet(batch: &RecordBatch) -> Result<Vec<u8>> {
    let schema = batch.schema();
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 4 + 1024);
    let mut w = ArrowWriter::try_new(&mut buf, schema.clone(), Some(writer_properties(&schema)))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf)
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
