//! Compaction: merge the small segments of one (table, day) partition.
//!
//! Planning picks, per partition, the smallest segments under
//! `compaction_max_bytes`, at most `compaction_max_segments` of them and at
//! most `compaction_max_bytes` in total; a job exists when at least
//! `compaction_min_segments` (and two) were picked.
//!
//! A job runs on a blocking thread, so ingest is never blocked:
//!
//! 1. A first streaming pass reads only the float columns of the inputs to
//!    choose the scaled-integer encoding of the output ([`crate::encoding`]).
//! 2. A second pass streams every input (one batch at a time), reshapes it to
//!    the current table schema (older segments lack newer columns; scaled
//!    columns are cast back to `Float64`), merges the sorted inputs by
//!    (attributes, time) and writes row groups to a temporary file, which is
//!    fsynced and renamed (local store) or uploaded (object store). Memory
//!    stays at about one batch per input plus one row group, whatever the
//!    input size. With an object store the inputs are first downloaded to the
//!    local staging directory (at most `compaction_max_bytes` of disk) and
//!    removed when the job ends.
//! 3. Under the flush lock, the manifest is swapped once: the merged segment
//!    in, the inputs out and into `pending_deletes`. If an input is no longer
//!    live (retention dropped it meanwhile), the job is abandoned and its
//!    file deleted.
//!
//! Input files are deleted after `deletion_grace` (or on the next start), so
//! a query that listed them before the swap can still read them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::array::{Array, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, SchemaRef};

use crate::clock::duration_nanos;
use crate::config::{FailPoint, StoreConfig};
use crate::encoding::{self, EncodingOptions, ScaleDetector};
use crate::error::{Error, Result};
use crate::manifest::{PendingDelete, SegmentMeta};
use crate::merge::{BatchSource, SortedMerge};
use crate::segment::{segment_path, sort_key_columns, AttrStatsCollector, SegmentStore};
use crate::segment_store::{self, LocalCopy, StagedFile};
use crate::store::Store;

/// Rows per batch read from an input and written to the output.
const BATCH_ROWS: usize = 8192;

/// What a call to [`Store::compact`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CompactionSummary {
    /// Jobs completed (merged segments now live).
    pub jobs: usize,
    /// Segments replaced.
    pub input_segments: usize,
    /// Bytes of the replaced segments.
    pub input_bytes: u64,
    /// Bytes of the merged segments.
    pub output_bytes: u64,
    /// Rows rewritten.
    pub rows: u64,
}

/// One planned merge.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Job {
    pub(crate) table: String,
    pub(crate) partition: String,
    pub(crate) inputs: Vec<SegmentMeta>,
}

/// Plan the jobs for a set of live segments (at most one per partition).
pub(crate) fn plan(segments: &[SegmentMeta], config: &StoreConfig) -> Vec<Job> {
    let min = config.compaction_min_segments.max(2);
    let mut parts: BTreeMap<(&str, &str), Vec<&SegmentMeta>> = BTreeMap::new();
    for s in segments.iter().filter(|s| s.bytes < config.compaction_max_bytes) {
        parts.entry((s.table.as_str(), s.partition.as_str())).or_default().push(s);
    }
    let mut jobs = Vec::new();
    for ((table, partition), mut candidates) in parts {
        if candidates.len() < min {
            continue;
        }
        candidates.sort_by_key(|s| (s.bytes, s.id));
        let (mut inputs, mut total) = (Vec::new(), 0u64);
        for s in candidates {
            if inputs.len() >= config.compaction_max_segments || total + s.bytes > config.compaction_max_bytes {
                break;
            }
            total += s.bytes;
            inputs.push(s.clone());
        }
        if inputs.len() >= min {
            inputs.sort_by_key(|s| s.id);
            jobs.push(Job { table: table.to_string(), partition: partition.to_string(), inputs });
        }
    }
    jobs
}

impl Store {
    /// Whether some partition has enough small segments to compact.
    pub fn compaction_due(&self) -> bool {
        !plan(&self.shared.state.read().manifest.segments, &self.config).is_empty()
    }

    /// Whether a compaction is running now.
    pub fn compaction_running(&self) -> bool {
        self.compaction_lock.try_lock().is_err()
    }

    /// Merge the small segments of every partition that has at least
    /// `compaction_min_segments` of them. One compaction runs at a time;
    /// ingest and queries continue meanwhile. A failed job leaves its inputs
    /// live; the other partitions are still compacted and the last error is
    /// returned. Returns [`Error::Closed`] when the store is closing.
    pub async fn compact(&self) -> Result<CompactionSummary> {
        let _running = self.compaction_lock.lock().await;
        let mut summary = CompactionSummary::default();
        let mut failed = None;
        let jobs = plan(&self.shared.state.read().manifest.segments, &self.config);
        for job in jobs {
            if self.closing.load(Ordering::SeqCst) {
                return Err(Error::Closed);
            }
            let Some(schema) = self.shared.state.read().schemas.get(&job.table).cloned() else { continue };
            let started = std::time::Instant::now();
            let outcome = self.run_job(&job, schema).await;
            let result = if outcome.is_ok() { "ok" } else { "error" };
            tidewater_telemetry::metrics::COMPACTION_SECONDS.observe_duration(&[result], started.elapsed());
            match outcome {
                Ok(Some(merged)) => {
                    summary.jobs += 1;
                    summary.input_segments += job.inputs.len();
                    summary.input_bytes += job.inputs.iter().map(|s| s.bytes).sum::<u64>();
                    summary.output_bytes += merged.bytes;
                    summary.rows += merged.rows;
                }
                Ok(None) => {}
                Err(Error::Closed) => return Err(Error::Closed),
                Err(e) => {
                    // Other partitions still get their turn; the error is reported at the end.
                    tracing::warn!(table = %job.table, partition = %job.partition, error = %e, "compaction job failed");
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }

    /// Merge one job's inputs and swap the manifest; `None` if the inputs
    /// changed meanwhile and the result was discarded.
    async fn run_job(&self, job: &Job, schema: SchemaRef) -> Result<Option<SegmentMeta>> {
        let id = self.shared.next_segment_id.fetch_add(1, Ordering::SeqCst);
        let mut inputs = Vec::with_capacity(job.inputs.len());
        for input in &job.inputs {
            inputs.push(self.segments.fetch(&input.path).await?);
        }
        let (segments, closing, task_job) = (self.segments.clone(), Arc::clone(&self.closing), job.clone());
        // The inputs' local copies are dropped (removed, if downloaded) with the task.
        let (merged, staged) =
            tokio::task::spawn_blocking(move || merge_job(&segments, &inputs, &schema, &task_job, id, &closing))
                .await
                .map_err(|e| Error::io("<compaction task>", std::io::Error::other(e.to_string())))??;
        self.segments.publish(staged).await?;
        if self.config.fail_point == Some(FailPoint::CompactionBeforeManifestSwap) {
            return Err(Error::io(
                &merged.path,
                std::io::Error::other("fail point: crash before the compaction's manifest swap"),
            ));
        }

        let _flush = self.flush_lock.lock().await;
        let mut manifest = self.shared.state.read().manifest.clone();
        let ids: HashSet<u64> = job.inputs.iter().map(|s| s.id).collect();
        if manifest.segments.iter().filter(|s| ids.contains(&s.id)).count() != ids.len() {
            tracing::warn!(table = %job.table, partition = %job.partition, merged = %merged.path,
                "compaction inputs changed meanwhile (retention?); discarding the merged segment");
            self.segments.delete(&merged.path).await?;
            return Ok(None);
        }
        let delete_after = self.config.clock.now_nanos().saturating_add(duration_nanos(self.config.deletion_grace));
        manifest.segments.retain(|s| !ids.contains(&s.id));
        manifest.segments.push(merged.clone());
        manifest
            .pending_deletes
            .extend(job.inputs.iter().map(|s| PendingDelete { path: s.path.clone(), delete_after }));
        self.commit_manifest(manifest).await?;
        tracing::info!(table = %job.table, partition = %job.partition, inputs = job.inputs.len(),
            input_bytes = job.inputs.iter().map(|s| s.bytes).sum::<u64>(), output_bytes = merged.bytes,
            rows = merged.rows, segment = %merged.path, "compacted partition");
        Ok(Some(merged))
    }
}

/// Merge a job's input files (local copies, in the order of `job.inputs`)
/// into segment `id`, not yet published (blocking).
fn merge_job(
    segments: &SegmentStore,
    inputs: &[LocalCopy],
    table_schema: &SchemaRef,
    job: &Job,
    id: u64,
    closing: &AtomicBool,
) -> Result<(SegmentMeta, StagedFile)> {
    let expected_rows: u64 = job.inputs.iter().map(|s| s.rows).sum();
    let schema = output_schema(inputs, table_schema)?;
    let scales = detect_scales(inputs, &schema)?;
    let file_schema = encoding::file_schema(&schema, &scales);
    let path = segment_path(&job.table, &job.partition, id);
    let mut writer = segments.create(&path, file_schema.clone(), &EncodingOptions::default())?;

    let mut sources: Vec<BatchSource> = Vec::with_capacity(job.inputs.len());
    for input in inputs {
        let reader = segment_store::open_reader(input.path(), BATCH_ROWS, None)?;
        let target = schema.clone();
        sources.push(Box::new(reader.map(move |b| encoding::to_table_batch(&b?, &target))));
    }
    let merge = SortedMerge::new(&schema, sort_key_columns(&schema), sources, BATCH_ROWS)?;
    let (mut rows, mut min_time, mut max_time) = (0u64, i64::MAX, i64::MIN);
    let mut attributes = AttrStatsCollector::default();
    for batch in merge {
        if closing.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let batch = batch?;
        rows += batch.num_rows() as u64;
        if let (Some(lo), Some(hi)) = crate::memtable::time_range(&batch) {
            min_time = min_time.min(lo);
            max_time = max_time.max(hi);
        }
        attributes.observe(&batch);
        writer.write(&encoding::to_file_batch(&batch, &file_schema)?)?;
    }
    if rows != expected_rows {
        return Err(Error::Corrupt {
            what: "segment",
            path: path.clone().into(),
            reason: format!("compaction read {rows} rows, the manifest lists {expected_rows}"),
        });
    }
    let staged = writer.finish()?;
    if min_time > max_time {
        // No `time` values: keep the inputs' recorded range.
        min_time = job.inputs.iter().map(|s| s.min_time).min().unwrap_or(0);
        max_time = job.inputs.iter().map(|s| s.max_time).max().unwrap_or(0);
    }
    let meta = SegmentMeta {
        id,
        table: job.table.clone(),
        partition: job.partition.clone(),
        path,
        min_time,
        max_time,
        rows,
        bytes: staged.bytes(),
        attributes: Some(attributes.finish()),
    };
    Ok((meta, staged))
}

/// The table schema limited to the columns some input has (a merged segment
/// does not gain all-NULL columns).
fn output_schema(inputs: &[LocalCopy], table_schema: &SchemaRef) -> Result<SchemaRef> {
    let mut present = HashSet::new();
    for input in inputs {
        present.extend(segment_store::file_schema(input.path())?.fields().iter().map(|f| f.name().clone()));
    }
    let fields: Vec<_> = table_schema.fields().iter().filter(|f| present.contains(f.name())).cloned().collect();
    Ok(Arc::new(Schema::new_with_metadata(fields, table_schema.metadata().clone())))
}

/// First pass: the scale each `Float64` column of the output can use.
fn detect_scales(inputs: &[LocalCopy], schema: &SchemaRef) -> Result<HashMap<String, i8>> {
    let floats: Vec<&str> =
        schema.fields().iter().filter(|f| f.data_type() == &DataType::Float64).map(|f| f.name().as_str()).collect();
    let mut detectors: HashMap<&str, ScaleDetector> = floats.iter().map(|n| (*n, ScaleDetector::default())).collect();
    if floats.is_empty() {
        return Ok(HashMap::new());
    }
    for input in inputs {
        for batch in segment_store::open_reader(input.path(), BATCH_ROWS, Some(&floats))? {
            let batch = batch?;
            for (name, detector) in detectors.iter_mut() {
                let Some(col) = batch.column_by_name(name) else { continue };
                let col =
                    if col.data_type() == &DataType::Float64 { col.clone() } else { cast(col, &DataType::Float64)? };
                if let Some(values) = col.as_any().downcast_ref::<Float64Array>() {
                    detector.observe(values);
                }
            }
        }
    }
    Ok(detectors.into_iter().filter_map(|(n, d)| d.scale().map(|k| (n.to_string(), k))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, table: &str, partition: &str, bytes: u64) -> SegmentMeta {
        SegmentMeta {
            id,
            table: table.into(),
            partition: partition.into(),
            path: format!("{table}/{partition}/{id}.parquet"),
            min_time: 0,
            max_time: 0,
            rows: 1,
            bytes,
            attributes: None,
        }
    }

    #[test]
    fn plans_per_partition_within_limits() {
        let mut config = StoreConfig::new("/nonexistent");
        config.compaction_min_segments = 3;
        config.compaction_max_segments = 4;
        config.compaction_max_bytes = 100;
        let mut segs: Vec<SegmentMeta> = (1..=6).map(|i| seg(i, "cpu", "2026-01-01", 10)).collect();
        segs.push(seg(7, "cpu", "2026-01-01", 100)); // too big: never compacted again
        segs.extend((8..=9).map(|i| seg(i, "cpu", "2026-01-02", 10))); // too few
        segs.extend((10..=12).map(|i| seg(i, "mem", "2026-01-01", 40))); // byte cap: only 2 fit
        let jobs = plan(&segs, &config);
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!(jobs[0].table, "cpu");
        assert_eq!(jobs[0].inputs.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    }
}
