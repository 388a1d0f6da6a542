//! The manifest: which segments exist and which WAL files they cover.
//!
//! Each version is a file `manifest/{seq:020}.json` that starts with the line
//! `TWMANIFEST <version> <crc32c of the rest, hex>` followed by JSON. A new
//! version is written to a temporary file, fsynced, renamed into place and the
//! directory fsynced, so a crash leaves either the old or the new version,
//! never a half-written one. The newest valid version wins; the previous one
//! is kept as a fallback.
//!
//! With an object store ([`ManifestStore::Remote`]) each version is the
//! object `manifest/{seq:020}.json` with the same header and checksum,
//! written with one PUT (atomic in S3: readers see the whole object or
//! none); listing finds the versions, and the same newest-valid rule applies.
//!
//! Segments replaced by a compaction or dropped by retention leave the live
//! list and enter `pending_deletes` in the same version: their files stay on
//! disk for a grace period (queries may still read them) and are deleted
//! after it, or on the next start. Manifests written before that field
//! existed read as having no pending deletes, so the format version stays 1.
//!
//! Each segment may carry [`AttrStats`] per attribute column (the distinct
//! values, or their range when there are many), so queries can skip a
//! segment whose attributes cannot match without opening it. Segments
//! written before these statistics existed have none and are never pruned
//! by attributes; the format version stays 1 for them too.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::object;

const MAGIC: &str = "TWMANIFEST";
const VERSION: u32 = 1;

/// One immutable segment file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentMeta {
    /// Unique, increasing id.
    pub id: u64,
    /// The table whose rows it holds.
    pub table: String,
    /// Time partition (UTC day, `YYYY-MM-DD`).
    pub partition: String,
    /// Path relative to the segment store root.
    pub path: String,
    /// Smallest `time` (ns).
    pub min_time: i64,
    /// Largest `time` (ns).
    pub max_time: i64,
    /// Row count.
    pub rows: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Statistics of the attribute columns, by column name; `None` for
    /// segments written before they were recorded. A column without an
    /// entry has unknown values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, AttrStats>>,
}

/// What a segment's manifest entry says about one attribute column's
/// non-NULL values (NULLs never match an equality, so they are not tracked).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum AttrStats {
    /// Every distinct non-NULL value, sorted (at most
    /// [`AttrStats::MAX_VALUES`] of them and [`AttrStats::MAX_BYTES`] in all).
    Values(Vec<String>),
    /// The smallest and largest non-NULL value (byte order), when there are
    /// more distinct values than [`AttrStats::Values`] may hold.
    Range {
        /// Smallest value.
        min: String,
        /// Largest value.
        max: String,
    },
}

impl AttrStats {
    /// Most distinct values kept as a set.
    pub const MAX_VALUES: usize = 16;
    /// Most bytes of values kept as a set (else a range); also the longest
    /// bound a range keeps (else the column gets no statistics).
    pub const MAX_BYTES: usize = 512;

    /// Whether a row of the segment could hold `value` in this column.
    pub fn may_contain(&self, value: &str) -> bool {
        match self {
            AttrStats::Values(values) => values.binary_search_by(|v| v.as_str().cmp(value)).is_ok(),
            AttrStats::Range { min, max } => min.as_str() <= value && value <= max.as_str(),
        }
    }
}

/// A segment file no longer in the live list, waiting for its deletion time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingDelete {
    /// Path relative to the segment store root.
    pub path: String,
    /// Delete the file once the clock reads this (ns since the epoch).
    pub delete_after: i64,
}

/// A column of a table schema as persisted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnEntry {
    /// Column name.
    pub name: String,
    /// Arrow data type in its display form (parsed back with `FromStr`).
    pub data_type: String,
}

/// A table's schema and metadata as persisted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TableEntry {
    /// Columns in order.
    pub columns: Vec<ColumnEntry>,
    /// Table metadata (kind, temporality, unit, ...).
    pub metadata: BTreeMap<String, String>,
}

/// The catalog of persisted data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Manifest {
    /// Version sequence number; the file name.
    pub seq: u64,
    /// WAL files with an id up to and including this are fully in segments.
    pub wal_flushed_through: u64,
    /// Next segment id to hand out.
    pub next_segment_id: u64,
    /// Table schemas.
    pub tables: BTreeMap<String, TableEntry>,
    /// Live segments.
    pub segments: Vec<SegmentMeta>,
    /// Files of segments that left the live list, deleted after a grace period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_deletes: Vec<PendingDelete>,
}

impl Manifest {
    /// Serialise with the header line and checksum.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let body = serde_json::to_vec(self)?;
        let mut out = format!("{MAGIC} {VERSION} {:08x}\n", crc32c::crc32c(&body)).into_bytes();
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parse and verify bytes written by [`Manifest::encode`].
    pub fn decode(data: &[u8]) -> std::result::Result<Manifest, String> {
        let nl = data.iter().position(|b| *b == b'\n').ok_or("no header line")?;
        let header = std::str::from_utf8(&data[..nl]).map_err(|_| "header not UTF-8")?;
        let mut parts = header.split(' ');
        if parts.next() != Some(MAGIC) {
            return Err("bad magic".into());
        }
        let version: u32 = parts.next().and_then(|v| v.parse().ok()).ok_or("bad version")?;
        if version != VERSION {
            return Err(format!("unsupported manifest version {version}"));
        }
        let crc = parts.next().and_then(|c| u32::from_str_radix(c, 16).ok()).ok_or("bad checksum field")?;
        let body = &data[nl + 1..];
        let actual = crc32c::crc32c(body);
        if actual != crc {
            return Err(format!("checksum mismatch (stored {crc:08x}, computed {actual:08x})"));
        }
        serde_json::from_slice(body).map_err(|e| format!("json: {e}"))
    }
}

fn path_of(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.json"))
}

fn list(dir: &Path) -> Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(seq) = name.strip_suffix(".json").and_then(|s| s.parse::<u64>().ok()) {
            seqs.push(seq);
        } else if name.ends_with(".tmp") {
            // A write that never completed its rename: it was never the manifest.
            let _ = std::fs::remove_file(entry.path());
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Load the newest valid manifest in `dir` (an empty one if there is none).
pub fn load(dir: &Path) -> Result<Manifest> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let seqs = list(dir)?;
    let mut first_error = None;
    for seq in seqs.iter().rev() {
        let path = path_of(dir, *seq);
        let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        match Manifest::decode(&data) {
            Ok(m) => {
                if let Some((bad, reason)) = first_error {
                    tracing::error!(bad_seq = bad, used_seq = seq, %reason, "newest manifest is corrupt; using the previous one");
                }
                return Ok(m);
            }
            Err(reason) => {
                first_error.get_or_insert((*seq, reason));
            }
        }
    }
    match first_error {
        Some((seq, reason)) => Err(Error::Corrupt { what: "manifest", path: path_of(dir, seq), reason }),
        None => Ok(Manifest::default()),
    }
}

/// Write `m` as the new current manifest (atomically), keeping one previous version.
pub fn store(dir: &Path, m: &Manifest) -> Result<()> {
    let data = m.encode()?;
    let final_path = path_of(dir, m.seq);
    let tmp = dir.join(format!("{:020}.tmp", m.seq));
    write_durably(&tmp, &final_path, &data)?;
    for seq in list(dir)? {
        if seq + 1 < m.seq {
            let p = path_of(dir, seq);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// Where manifest versions are kept.
#[derive(Debug, Clone)]
pub enum ManifestStore {
    /// Files `{seq:020}.json` in this directory, written with temp file +
    /// fsync + rename + directory fsync.
    Local(PathBuf),
    /// Objects `manifest/{seq:020}.json` in this object store, one PUT each.
    Remote(Arc<dyn ObjectStore>),
}

/// The prefix of manifest objects in a remote store.
const REMOTE_DIR: &str = "manifest";

impl ManifestStore {
    /// Load the newest valid manifest (an empty one if there is none); an
    /// invalid newest version falls back to the previous one.
    pub async fn load(&self) -> Result<Manifest> {
        match self {
            ManifestStore::Local(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || load(&dir)).await.map_err(join_error)?
            }
            ManifestStore::Remote(store) => load_remote(store.as_ref()).await,
        }
    }

    /// Write `m` as the new current manifest (atomically), keeping one previous version.
    pub async fn store(&self, m: &Manifest) -> Result<()> {
        match self {
            ManifestStore::Local(dir) => {
                let (dir, m) = (dir.clone(), m.clone());
                tokio::task::spawn_blocking(move || store(&dir, &m)).await.map_err(join_error)?
            }
            ManifestStore::Remote(store) => store_remote(store.as_ref(), m).await,
        }
    }
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::io("<manifest task>", std::io::Error::other(e.to_string()))
}

fn remote_path(seq: u64) -> object_store::path::Path {
    object_store::path::Path::from(format!("{REMOTE_DIR}/{seq:020}.json"))
}

async fn list_remote(store: &dyn ObjectStore) -> Result<Vec<u64>> {
    let prefix = object_store::path::Path::from(REMOTE_DIR);
    let mut seqs: Vec<u64> = object::list(store, Some(&prefix))
        .await?
        .iter()
        .filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok())
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

async fn load_remote(store: &dyn ObjectStore) -> Result<Manifest> {
    let mut first_error = None;
    for seq in list_remote(store).await?.iter().rev() {
        let data = store.get(&remote_path(*seq)).await?.bytes().await?;
        match Manifest::decode(&data) {
            Ok(m) => {
                if let Some((bad, reason)) = first_error {
                    tracing::error!(bad_seq = bad, used_seq = seq, %reason, "newest manifest is corrupt; using the previous one");
                }
                return Ok(m);
            }
            Err(reason) => {
                first_error.get_or_insert((*seq, reason));
            }
        }
    }
    match first_error {
        Some((seq, reason)) => {
            Err(Error::Corrupt { what: "manifest", path: PathBuf::from(remote_path(seq).to_string()), reason })
        }
        None => Ok(Manifest::default()),
    }
}

async fn store_remote(store: &dyn ObjectStore, m: &Manifest) -> Result<()> {
    store.put(&remote_path(m.seq), m.encode()?.into()).await?;
    for seq in list_remote(store).await? {
        if seq + 1 < m.seq {
            object::delete(store, &remote_path(seq)).await?;
        }
    }
    Ok(())
}

/// Write `data` to `tmp`, fsync, rename to `dst`, fsync the directory.
pub fn write_durably(tmp: &Path, dst: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
    f.write_all(data).map_err(|e| Error::io(tmp, e))?;
    f.sync_all().map_err(|e| Error::io(tmp, e))?;
    drop(f);
    std::fs::rename(tmp, dst).map_err(|e| Error::io(dst, e))?;
    sync_dir(dst.parent().unwrap_or(Path::new(".")))
}

/// fsync a directory so a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64) -> Manifest {
        Manifest {
            seq,
            wal_flushed_through: seq * 2,
            next_segment_id: 7,
            tables: BTreeMap::new(),
            segments: vec![SegmentMeta {
                id: 1,
                table: "cpu".into(),
                partition: "2026-11-22".into(),
                path: "cpu/2026-11-22/1.parquet".into(),
                min_time: 1,
                max_time: 2,
                rows: 3,
                bytes: 4,
                attributes: None,
            }],
            pending_deletes: vec![PendingDelete { path: "cpu/2026-11-22/0.parquet".into(), delete_after: 9 }],
        }
    }

    /// A version-1 manifest as written before `pending_deletes` existed.
    const V1_FIXTURE: &str = concat!(
        r#"{"seq":3,"wal_flushed_through":6,"next_segment_id":7,"tables":{},"#,
        r#""segments":[{"id":1,"table":"cpu","partition":"2026-11-22","path":"cpu/2026-11-22/1.parquet","#,
        r#""min_time":1,"max_time":2,"rows":3,"bytes":4}]}"#
    );

    #[test]
    fn version_1_manifest_without_pending_deletes_still_reads() {
        let body = V1_FIXTURE.as_bytes();
        let mut data = format!("TWMANIFEST 1 {:08x}\n", crc32c::crc32c(body)).into_bytes();
        data.extend_from_slice(body);
        let m = Manifest::decode(&data).expect("decode");
        assert_eq!(m.segments.len(), 1);
        assert!(m.pending_deletes.is_empty());
        let mut expected = sample(3);
        expected.pending_deletes.clear();
        assert_eq!(m, expected);
    }

    #[test]
    fn empty_dir_gives_empty_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("load"), Manifest::default());
    }

    #[test]
    fn newest_valid_version_wins_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        for seq in 1..=4 {
            store(dir.path(), &sample(seq)).expect("store");
        }
        assert_eq!(load(dir.path()).expect("load"), sample(4));
        assert_eq!(list(dir.path()).expect("list"), vec![3, 4]);
    }

    #[test]
    fn corrupt_newest_falls_back_to_previous() {
        let dir = tempfile::tempdir().expect("tempdir");
        store(dir.path(), &sample(1)).expect("store");
        store(dir.path(), &sample(2)).expect("store");
        let p = path_of(dir.path(), 2);
        let mut data = std::fs::read(&p).expect("read");
        let n = data.len();
        data[n - 2] ^= 0x55;
        std::fs::write(&p, data).expect("write");
        assert_eq!(load(dir.path()).expect("load"), sample(1));
    }

    #[test]
    fn leftover_temp_file_is_ignored_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        store(dir.path(), &sample(1)).expect("store");
        std::fs::write(dir.path().join(format!("{:020}.tmp", 2)), b"TWMANIFEST 1 0000").expect("write");
        assert_eq!(load(dir.path()).expect("load"), sample(1));
        assert!(!dir.path().join(format!("{:020}.tmp", 2)).exists());
    }

    #[tokio::test]
    async fn remote_versions_follow_the_same_rules() {
        let mem: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let store = ManifestStore::Remote(mem.clone());
        assert_eq!(store.load().await.expect("load empty"), Manifest::default());
        for seq in 1..=4 {
            store.store(&sample(seq)).await.expect("store");
        }
        assert_eq!(list_remote(mem.as_ref()).await.expect("list"), vec![3, 4], "older versions pruned");
        assert_eq!(store.load().await.expect("load"), sample(4));
        // A corrupt newest version falls back to the previous one.
        let mut data = mem.get(&remote_path(4)).await.expect("get").bytes().await.expect("bytes").to_vec();
        let n = data.len();
        data[n - 2] ^= 0x55;
        mem.put(&remote_path(4), data.into()).await.expect("put");
        assert_eq!(store.load().await.expect("load"), sample(3));
        mem.put(&remote_path(3), b"garbage".to_vec().into()).await.expect("put");
        assert!(store.load().await.is_err(), "only corrupt versions");
    }

    #[test]
    fn attribute_statistics_round_trip_and_answer_membership() {
        let mut m = sample(5);
        let stats = BTreeMap::from([
            ("host".to_string(), AttrStats::Values(vec!["a".into(), "c".into()])),
            ("pod".to_string(), AttrStats::Range { min: "p-010".into(), max: "p-090".into() }),
        ]);
        m.segments[0].attributes = Some(stats.clone());
        let body = serde_json::to_string(&m.segments[0]).expect("json");
        assert!(
            body.contains(
                r#""attributes":{"host":{"values":["a","c"]},"pod":{"range":{"min":"p-010","max":"p-090"}}}"#
            ),
            "{body}"
        );
        assert_eq!(Manifest::decode(&m.encode().expect("encode")).expect("decode"), m);
        let (host, pod) = (&stats["host"], &stats["pod"]);
        assert!(host.may_contain("a") && host.may_contain("c"));
        assert!(!host.may_contain("b") && !host.may_contain(""));
        assert!(pod.may_contain("p-010") && pod.may_contain("p-050") && pod.may_contain("p-090"));
        assert!(!pod.may_contain("p-009") && !pod.may_contain("p-091"));
    }

    #[test]
    fn only_corrupt_versions_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(path_of(dir.path(), 1), b"garbage").expect("write");
        assert!(load(dir.path()).is_err());
    }
}
