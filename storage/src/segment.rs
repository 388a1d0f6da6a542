//! Segments: immutable, sorted, zstd-compressed Parquet files.
//!
//! A flush turns a table's buffered batches into one file per UTC-day
//! partition, rows sorted by (attribute columns, time). Timestamps are
//! delta-encoded, floats byte-stream-split or stored as scaled integers
//! (see [`crate::encoding`]), attributes dictionary-encoded. Where the files
//! go (local directory or object store) and how they are made durable is
//! [`crate::segment_store`]'s job. Each segment's manifest entry records
//! the values of its attribute columns ([`AttrStatsCollector`]) so queries
//! can skip it by attribute equality.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, TimestampNanosecondArray, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use parquet::arrow::ArrowWriter;

use crate::encoding::{self, EncodingOptions};
use crate::error::{Error, Result};
use crate::manifest::{AttrStats, SegmentMeta};
use crate::schema::{is_attribute, TIME};
pub use crate::segment_store::{SegmentStore, StagedFile};

/// Nanoseconds in a UTC day (the partition length).
pub const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Write a table's rows (already shaped to `schema`) as one segment per UTC
/// day through `segments` (blocking). `next_id` hands out segment ids (shared
/// with compaction). The segments are visible once published
/// ([`SegmentStore::publish_all`]).
pub fn write_table(
    segments: &SegmentStore,
    table: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    next_id: &AtomicU64,
) -> Result<Vec<(SegmentMeta, StagedFile)>> {
    let all = concat_batches(schema, batches)?;
    if all.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let sorted = sort_by_series_then_time(&all)?;
    let options = EncodingOptions::default();
    let mut out = Vec::new();
    for (day, part) in split_by_day(&sorted)? {
        let id = next_id.fetch_add(1, Ordering::SeqCst);
        let partition = day_string(day);
        let path = segment_path(table, &partition, id);
        let (min_time, max_time) = crate::memtable::time_range(&part);
        let mut attributes = AttrStatsCollector::default();
        attributes.observe(&part);
        let file_schema = encoding::file_schema(&part.schema(), &encoding::detect_scales(&part, &options));
        let mut writer = segments.create(&path, file_schema.clone(), &options)?;
        writer.write(&encoding::to_file_batch(&part, &file_schema)?)?;
        let staged = writer.finish()?;
        let meta = SegmentMeta {
            id,
            table: table.to_string(),
            partition,
            path,
            min_time: min_time.unwrap_or(0),
            max_time: max_time.unwrap_or(0),
            rows: part.num_rows() as u64,
            bytes: staged.bytes(),
            attributes: Some(attributes.finish()),
        };
        out.push((meta, staged));
    }
    Ok(out)
}

/// Collects the [`AttrStats`] of a segment's attribute columns, batch by
/// batch, in bounded memory: a column keeps at most [`AttrStats::MAX_VALUES`]
/// distinct values before it falls back to a range, and a column whose
/// range bound is longer than [`AttrStats::MAX_BYTES`] gets no statistics.
#[derive(Debug, Default)]
pub struct AttrStatsCollector {
    columns: BTreeMap<String, Acc>,
}

#[derive(Debug)]
enum Acc {
    Values(BTreeSet<String>, usize),
    Range(String, String),
    Unknown,
}

impl Acc {
    fn observe(&mut self, value: &str) {
        match self {
            Acc::Values(set, bytes) => {
                if set.contains(value) {
                    return;
                }
                if set.len() < AttrStats::MAX_VALUES && *bytes + value.len() <= AttrStats::MAX_BYTES {
                    *bytes += value.len();
                    set.insert(value.to_string());
                    return;
                }
                let lo = set.first().map_or(value, |f| f.as_str().min(value)).to_string();
                let hi = set.last().map_or(value, |l| l.as_str().max(value)).to_string();
                *self = Acc::Range(lo, hi);
                self.bound_check();
            }
            Acc::Range(lo, hi) => {
                if value < lo.as_str() {
                    *lo = value.to_string();
                } else if value > hi.as_str() {
                    *hi = value.to_string();
                }
                self.bound_check();
            }
            Acc::Unknown => {}
        }
    }

    /// Drop statistics whose bounds grew too long to keep in the manifest.
    fn bound_check(&mut self) {
        if let Acc::Range(lo, hi) = self {
            if lo.len() > AttrStats::MAX_BYTES || hi.len() > AttrStats::MAX_BYTES {
                *self = Acc::Unknown;
            }
        }
    }
}

impl AttrStatsCollector {
    /// Add the attribute columns of a table-shaped batch. Only dictionary
    /// entries some row refers to count (a filtered batch keeps its whole
    /// dictionary).
    pub fn observe(&mut self, batch: &RecordBatch) {
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            if !is_attribute(field) {
                continue;
            }
            let acc = self.columns.entry(field.name().clone()).or_insert_with(|| Acc::Values(BTreeSet::new(), 0));
            let strings = column.as_any_dictionary_opt().and_then(|d| Some((d, d.values().as_string_opt::<i32>()?)));
            let Some((dict, values)) = strings else {
                *acc = Acc::Unknown;
                continue;
            };
            if values.is_empty() {
                // Every row is NULL (and `normalized_keys` needs values).
                continue;
            }
            let mut used = vec![false; values.len()];
            for (row, key) in dict.normalized_keys().into_iter().enumerate() {
                if column.is_valid(row) {
                    if let Some(u) = used.get_mut(key) {
                        *u = true;
                    }
                }
            }
            for (key, _) in used.iter().enumerate().filter(|(_, u)| **u) {
                if values.is_valid(key) {
                    acc.observe(values.value(key));
                }
            }
        }
    }

    /// The statistics per column (columns with unknown values left out).
    pub fn finish(self) -> BTreeMap<String, AttrStats> {
        self.columns
            .into_iter()
            .filter_map(|(name, acc)| match acc {
                Acc::Values(set, _) => Some((name, AttrStats::Values(set.into_iter().collect()))),
                Acc::Range(min, max) => Some((name, AttrStats::Range { min, max })),
                Acc::Unknown => None,
            })
            .collect()
    }
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

    fn attrs(columns: Vec<(&str, Vec<Option<String>>)>) -> RecordBatch {
        use arrow::array::{ArrayRef, StringDictionaryBuilder};
        use arrow::datatypes::{Field, Int32Type, Schema};
        let fields: Vec<Field> =
            columns.iter().map(|(n, _)| Field::new(*n, crate::schema::attribute_type(), true)).collect();
        let arrays: Vec<ArrayRef> = columns
            .into_iter()
            .map(|(_, values)| {
                let mut b = StringDictionaryBuilder::<Int32Type>::new();
                values.iter().for_each(|v| b.append_option(v.as_deref()));
                Arc::new(b.finish()) as ArrayRef
            })
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
    }

    fn some(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    use std::sync::Arc;

    #[test]
    fn attribute_statistics_keep_few_values_as_a_set_and_many_as_a_range() {
        let many: Vec<Option<String>> = (0..20).map(|i| Some(format!("pod-{i:02}"))).collect();
        let mut c = AttrStatsCollector::default();
        c.observe(&attrs(vec![
            ("host", some(&["b", "a", "b"])),
            ("pod", many[..3].to_vec()),
            ("all_null", vec![None; 3]),
        ]));
        c.observe(&attrs(vec![("host", some(&["c"; 17])), ("pod", many[3..].to_vec()), ("all_null", vec![None; 17])]));
        let stats = c.finish();
        assert_eq!(stats["host"], AttrStats::Values(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(stats["pod"], AttrStats::Range { min: "pod-00".into(), max: "pod-19".into() });
        // NULLs never match an equality: an all-NULL column has no values.
        assert_eq!(stats["all_null"], AttrStats::Values(vec![]));
        // Long values fall back to a range; a bound too long for the manifest drops the column.
        let long = "v".repeat(AttrStats::MAX_BYTES + 1);
        let mut c = AttrStatsCollector::default();
        c.observe(&attrs(vec![
            ("big", vec![Some("a".repeat(300)), Some("b".repeat(300))]),
            ("huge", vec![Some(long), None]),
        ]));
        let stats = c.finish();
        assert_eq!(stats["big"], AttrStats::Range { min: "a".repeat(300), max: "b".repeat(300) });
        assert!(!stats.contains_key("huge"), "{stats:?}");
    }

    #[test]
    fn attribute_statistics_ignore_dictionary_entries_no_row_uses() {
        let batch = attrs(vec![("host", some(&["a", "b", "c"]))]);
        let kept = filter_record_batch(&batch, &BooleanArray::from(vec![false, true, false])).expect("filter");
        let mut c = AttrStatsCollector::default();
        c.observe(&kept);
        assert_eq!(c.finish()["host"], AttrStats::Values(vec!["b".into()]));
    }
}
