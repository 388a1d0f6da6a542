//! Retention: drop (table, day) partitions older than their TTL, and delete
//! the files of segments that left the manifest once their grace period ends.
//!
//! A partition is dropped when its whole UTC day ends at or before
//! `now - ttl` (ttl: the table's own retention, else the global one). Its
//! segments leave the live list and enter `pending_deletes` in one manifest
//! swap; the files are deleted by [`Store::delete_expired_files`] after
//! `deletion_grace`, or on the next start. Rows still in the memtable are not
//! touched: they go to a segment at the next flush and are dropped with it
//! later. Time comes from the configured [`crate::clock::Clock`].

use std::collections::{BTreeSet, HashSet};

use crate::clock::duration_nanos;
use crate::config::StoreConfig;
use crate::error::Result;
use crate::manifest::{PendingDelete, SegmentMeta};
use crate::segment::NANOS_PER_DAY;
use crate::store::Store;

/// Whether `segment`'s partition is past its table's retention at `now`.
pub(crate) fn is_expired(segment: &SegmentMeta, config: &StoreConfig, now: i64) -> bool {
    let Some(ttl) = config.retention_of(&segment.table) else { return false };
    let day_end = segment.min_time.div_euclid(NANOS_PER_DAY).saturating_add(1).saturating_mul(NANOS_PER_DAY);
    day_end <= now.saturating_sub(duration_nanos(ttl))
}

impl Store {
    /// Drop every partition past its retention; returns how many segments
    /// were dropped. Their files are deleted after the grace period.
    pub async fn apply_retention(&self) -> Result<usize> {
        if !self.config.has_retention() {
            return Ok(0);
        }
        let now = self.config.clock.now_nanos();
        let any = self.shared.state.read().manifest.segments.iter().any(|s| is_expired(s, &self.config, now));
        if !any {
            return Ok(0);
        }
        let _flush = self.flush_lock.lock().await;
        let mut manifest = self.shared.state.read().manifest.clone();
        let (dropped, kept): (Vec<SegmentMeta>, Vec<SegmentMeta>) =
            manifest.segments.into_iter().partition(|s| is_expired(s, &self.config, now));
        manifest.segments = kept;
        if dropped.is_empty() {
            return Ok(0);
        }
        let delete_after = now.saturating_add(duration_nanos(self.config.deletion_grace));
        manifest.pending_deletes.extend(dropped.iter().map(|s| PendingDelete { path: s.path.clone(), delete_after }));
        self.commit_manifest(manifest).await?;
        let partitions: BTreeSet<(&str, &str)> =
            dropped.iter().map(|s| (s.table.as_str(), s.partition.as_str())).collect();
        for (table, partition) in &partitions {
            tracing::info!(table, partition, "dropped partition past its retention");
        }
        tracing::info!(
            partitions = partitions.len(),
            segments = dropped.len(),
            rows = dropped.iter().map(|s| s.rows).sum::<u64>(),
            bytes = dropped.iter().map(|s| s.bytes).sum::<u64>(),
            "retention applied"
        );
        Ok(dropped.len())
    }

    /// Delete the files of replaced or dropped segments whose grace period
    /// has ended; returns how many files were deleted.
    pub async fn delete_expired_files(&self) -> Result<usize> {
        let now = self.config.clock.now_nanos();
        if !self.shared.state.read().manifest.pending_deletes.iter().any(|p| p.delete_after <= now) {
            return Ok(0);
        }
        let _flush = self.flush_lock.lock().await;
        let mut manifest = self.shared.state.read().manifest.clone();
        let (due, keep): (Vec<PendingDelete>, Vec<PendingDelete>) =
            manifest.pending_deletes.into_iter().partition(|p| p.delete_after <= now);
        manifest.pending_deletes = keep;
        // A file may be listed twice only by a bug; deleting twice is harmless.
        let paths: Vec<String> = due.iter().map(|p| p.path.clone()).collect::<HashSet<_>>().into_iter().collect();
        let count = paths.len();
        self.segments.delete_all(&paths).await?;
        self.commit_manifest(manifest).await?;
        tracing::debug!(files = count, "deleted replaced segment files after their grace period");
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn seg(table: &str, day: i64) -> SegmentMeta {
        SegmentMeta {
            id: 1,
            table: table.into(),
            partition: crate::segment::day_string(day),
            path: String::new(),
            min_time: day * NANOS_PER_DAY + 5,
            max_time: day * NANOS_PER_DAY + 10,
            rows: 1,
            bytes: 1,
            attributes: None,
        }
    }

    #[test]
    fn a_partition_expires_when_its_whole_day_is_past_the_ttl() {
        let mut config = StoreConfig::new("/nonexistent");
        config.retention = Some(Duration::from_secs(86_400));
        config.table_retention.insert("keep".into(), Duration::from_secs(10 * 86_400));
        let day = 20_000;
        // Day `day` ends at (day+1)*D; with a one-day TTL it expires at (day+2)*D.
        assert!(!is_expired(&seg("cpu", day), &config, (day + 2) * NANOS_PER_DAY - 1));
        assert!(is_expired(&seg("cpu", day), &config, (day + 2) * NANOS_PER_DAY));
        assert!(!is_expired(&seg("keep", day), &config, (day + 2) * NANOS_PER_DAY));
        assert!(is_expired(&seg("keep", day), &config, (day + 11) * NANOS_PER_DAY));
        config.retention = None;
        assert!(!is_expired(&seg("cpu", day), &config, i64::MAX));
    }
}
