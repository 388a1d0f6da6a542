//! The store: opening (manifest load + WAL replay), writes, snapshots, flushes.
//!
//! Compaction ([`crate::compaction`]), retention ([`crate::retention`]) and
//! table statistics ([`crate::stats`]) extend [`Store`] in their own files.
//! Every manifest change (flush, compaction, retention, garbage collection)
//! happens under `flush_lock`, starting from the current in-memory manifest.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use object_store::ObjectStore;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, oneshot};

use crate::config::StoreConfig;
use crate::error::{Error, Result};
use crate::manifest::{self, ColumnEntry, Manifest, ManifestStore, SegmentMeta, TableEntry};
use crate::memtable::Memtable;
use crate::object;
use crate::schema;
use crate::segment;
use crate::segment_store::{self, SegmentStore};
use crate::wal;
use crate::wal_writer::{Command, WalWriter};

/// One table's rows for a write.
#[derive(Debug, Clone)]
pub struct TableWrite {
    /// Normalised table name.
    pub table: String,
    /// Rows; the schema's metadata carries the table metadata.
    pub batch: RecordBatch,
}

/// What a write stored and what it refused.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// Rows made durable and visible.
    pub accepted_rows: usize,
    /// Tables refused, with their row counts and the reason.
    pub rejected: Vec<(String, usize, String)>,
}

/// A memtable frozen by a WAL rotation, waiting to become segments.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub(crate) memtable: Memtable,
    /// The WAL files up to this id hold exactly this and older frozen memtables.
    pub(crate) wal_through: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) active: Memtable,
    pub(crate) frozen: Vec<Arc<Frozen>>,
    pub(crate) manifest: Manifest,
    pub(crate) schemas: HashMap<String, SchemaRef>,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) state: RwLock<State>,
    /// Hands out segment ids to flushes and compactions.
    pub(crate) next_segment_id: AtomicU64,
}

/// A consistent view of one table for a query.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    /// The table schema (union of all columns seen).
    pub schema: SchemaRef,
    /// Segments holding the table's flushed rows.
    pub segments: Vec<SegmentMeta>,
    /// Buffered rows, shaped to `schema`.
    pub batches: Vec<RecordBatch>,
}

/// A consistent view of every table.
pub type Snapshot = BTreeMap<String, TableSnapshot>;

/// The storage engine.
pub struct Store {
    pub(crate) config: StoreConfig,
    pub(crate) shared: Arc<Shared>,
    tx: Mutex<Option<mpsc::Sender<Command>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub(crate) segments: SegmentStore,
    /// Where manifest versions are written.
    pub(crate) manifests: ManifestStore,
    /// Held by every manifest change.
    pub(crate) flush_lock: tokio::sync::Mutex<()>,
    /// Held by a running compaction (one at a time).
    pub(crate) compaction_lock: tokio::sync::Mutex<()>,
    /// Set by [`Store::close`]; long jobs stop early.
    pub(crate) closing: Arc<AtomicBool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.config.data_dir)
            .field("object_store", &self.config.s3.as_ref().map(|s| &s.url))
            .finish()
    }
}

impl Store {
    /// Open a store whose segments and manifests are in the local data
    /// directory: load the manifest, drop orphan segments, replay the WAL,
    /// start the writer thread. Blocking; call from a blocking context. A store
    /// with object storage ([`StoreConfig::s3`]) is opened with [`Store::open_async`].
    pub fn open(config: StoreConfig) -> Result<Arc<Store>> {
        if config.s3.is_some() {
            return Err(Error::Config("a store with object storage is opened with Store::open_async".into()));
        }
        let manifest_dir = config.data_dir.join("manifest");
        std::fs::create_dir_all(&manifest_dir).map_err(|e| Error::io(&manifest_dir, e))?;
        let manifest = manifest::load(&manifest_dir)?;
        let root = config.data_dir.join("segments");
        let segments = SegmentStore::local(&root)?;
        for rel in orphans(segment_store::list_local(&root)?, &manifest) {
            segment_store::remove_local(&root.join(rel))?;
        }
        Self::start(config, segments, ManifestStore::Local(manifest_dir), manifest)
    }

    /// Open a store from async code: like [`Store::open`], and for a store
    /// with object storage, load the newest manifest from the bucket and
    /// delete the objects it does not name.
    pub async fn open_async(config: StoreConfig) -> Result<Arc<Store>> {
        let Some(s3) = config.s3.clone() else {
            return tokio::task::spawn_blocking(move || Self::open(config)).await.map_err(join_error)?;
        };
        let data_dir = config.data_dir.clone();
        let (root, segments) = tokio::task::spawn_blocking(move || -> Result<_> {
            refuse_local_manifest(&data_dir)?;
            let root = object::build(&s3)?;
            let segments = SegmentStore::remote(root.clone(), &data_dir.join("staging"))?;
            Ok((root, segments))
        })
        .await
        .map_err(join_error)??;
        let manifests = ManifestStore::Remote(root);
        let manifest = manifests.load().await?;
        segments.delete_all(&orphans(segments.list_files().await?, &manifest)).await?;
        tracing::info!(
            url = config.s3.as_ref().map(|s| s.url.as_str()),
            seq = manifest.seq,
            segments = manifest.segments.len(),
            "segments and manifests are in object storage"
        );
        tokio::task::spawn_blocking(move || Self::start(config, segments, manifests, manifest))
            .await
            .map_err(join_error)?
    }

    /// Replay the WAL over `manifest` and start the writer thread (blocking).
    fn start(
        config: StoreConfig,
        segments: SegmentStore,
        manifests: ManifestStore,
        mut manifest: Manifest,
    ) -> Result<Arc<Store>> {
        let wal_dir = config.data_dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
        // Their files are gone now; nothing can be reading them.
        manifest.pending_deletes.clear();
        let next_segment_id = AtomicU64::new(manifest.next_segment_id.max(1));

        let mut state = State { schemas: schemas_from_manifest(&manifest)?, ..State::default() };
        let mut last_id = manifest.wal_flushed_through;
        let (mut records, mut rows) = (0usize, 0usize);
        for id in wal::list_files(&wal_dir)? {
            let path = wal::file_path(&wal_dir, id);
            if id <= manifest.wal_flushed_through {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                continue;
            }
            last_id = last_id.max(id);
            let replay = wal::replay_file(&path)?;
            for (offset, bytes, reason) in &replay.skipped {
                tracing::error!(file = %path.display(), offset, lost_bytes = bytes, %reason,
                    "WAL record damaged on disk; skipped, later records kept");
            }
            if let Some((bytes, reason)) = &replay.dropped {
                tracing::warn!(file = %path.display(), dropped_bytes = bytes, kept_bytes = replay.valid_len, %reason,
                    "WAL tail is torn; truncating (these bytes were never acknowledged)");
                truncate(&path, replay.valid_len)?;
            }
            for record in replay.records {
                records += 1;
                for (table, batch) in record {
                    rows += batch.num_rows();
                    let current = state.schemas.get(&table).cloned();
                    let merged = match current {
                        Some(cur) => schema::merge(&table, &cur, &batch.schema())?.unwrap_or(cur),
                        None => schema::all_nullable(&batch.schema()),
                    };
                    state.schemas.insert(table.clone(), merged);
                    state.active.insert(&table, batch);
                }
            }
        }
        if records > 0 {
            tracing::info!(records, rows, "replayed WAL");
        }
        state.manifest = manifest;
        let shared = Arc::new(Shared { state: RwLock::new(state), next_segment_id });
        let writer = WalWriter::create(wal_dir, last_id + 1, config.sync, config.fail_point, shared.clone())?;
        let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
        let handle = std::thread::Builder::new()
            .name("tidewater-wal".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::io("<wal thread>", e))?;
        Ok(Arc::new(Store {
            config,
            shared,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            segments,
            manifests,
            flush_lock: tokio::sync::Mutex::new(()),
            compaction_lock: tokio::sync::Mutex::new(()),
            closing: Arc::new(AtomicBool::new(false)),
        }))
    }

    /// The object store segment paths are relative to.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.segments.object_store()
    }

    /// Durably store rows for several tables; returns once they are in the
    /// WAL (per the sync policy) and visible to queries.
    ///
    /// Tables whose rows clash with the existing schema are refused and
    /// reported in [`WriteOutcome::rejected`]; the others are stored.
    pub async fn write(&self, writes: Vec<TableWrite>) -> Result<WriteOutcome> {
        let tx = self.tx.lock().clone().ok_or(Error::Closed)?;
        let mut outcome = WriteOutcome::default();
        let mut accepted = Vec::with_capacity(writes.len());
        {
            let mut state = self.shared.state.write();
            let buffered = state.active.bytes + state.frozen.iter().map(|f| f.memtable.bytes).sum::<usize>();
            if buffered > self.config.max_memory_bytes {
                return Err(Error::Overloaded(format!(
                    "{buffered} bytes buffered awaiting flush, limit {}",
                    self.config.max_memory_bytes
                )));
            }
            for w in writes {
                if w.batch.num_rows() == 0 {
                    continue;
                }
                let current = state.schemas.get(&w.table).cloned();
                let merged = match &current {
                    Some(cur) => schema::merge(&w.table, cur, &w.batch.schema()),
                    None => Ok(Some(schema::all_nullable(&w.batch.schema()))),
                };
                match merged {
                    Ok(Some(s)) => {
                        state.schemas.insert(w.table.clone(), s);
                        accepted.push((w.table, w.batch));
                    }
                    Ok(None) => accepted.push((w.table, w.batch)),
                    Err(e) => outcome.rejected.push((w.table, w.batch.num_rows(), e.to_string())),
                }
            }
        }
        if accepted.is_empty() {
            return Ok(outcome);
        }
        outcome.accepted_rows = accepted.iter().map(|(_, b)| b.num_rows()).sum();
        let record = wal::encode_record(&accepted)?;
        let (ack_tx, ack_rx) = oneshot::channel();
        let cmd = Command::Append { record, tables: accepted, ack: ack_tx };
        match tokio::time::timeout(Duration::from_secs(5), tx.send(cmd)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Error::Closed),
            Err(_) => return Err(Error::Overloaded("WAL write queue full for 5 s".into())),
        }
        ack_rx.await.map_err(|_| Error::Closed)??;
        Ok(outcome)
    }

    /// Names of all tables.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.state.read().schemas.keys().cloned().collect();
        names.sort();
        names
    }

    /// A table's schema, if it exists.
    pub fn table_schema(&self, table: &str) -> Option<SchemaRef> {
        self.shared.state.read().schemas.get(table).cloned()
    }

    /// A consistent view of one table: segments plus buffered rows.
    pub fn snapshot_table(&self, table: &str) -> Result<Option<TableSnapshot>> {
        let state = self.shared.state.read();
        let Some(schema) = state.schemas.get(table).cloned() else { return Ok(None) };
        let segments: Vec<SegmentMeta> = state.manifest.segments.iter().filter(|s| s.table == table).cloned().collect();
        let mut raw = Vec::new();
        for f in &state.frozen {
            if let Some(buf) = f.memtable.tables.get(table) {
                raw.extend(buf.batches.iter().cloned());
            }
        }
        if let Some(buf) = state.active.tables.get(table) {
            raw.extend(buf.batches.iter().cloned());
        }
        drop(state);
        let batches = raw.iter().map(|b| schema::adapt(b, &schema)).collect::<Result<Vec<_>>>()?;
        Ok(Some(TableSnapshot { schema, segments, batches }))
    }

    /// Bytes buffered in memory (active plus frozen memtables).
    pub fn buffered_bytes(&self) -> usize {
        let state = self.shared.state.read();
        state.active.bytes + state.frozen.iter().map(|f| f.memtable.bytes).sum::<usize>()
    }

    /// Live segments (all tables).
    pub fn segments(&self) -> Vec<SegmentMeta> {
        self.shared.state.read().manifest.segments.clone()
    }

    /// Whether the flush thresholds (size or age) are reached.
    pub fn flush_due(&self) -> bool {
        let state = self.shared.state.read();
        state.active.bytes >= self.config.flush_bytes
            || state.active.largest_table_bytes >= self.config.table_flush_bytes
            || state.active.first_write.is_some_and(|t| t.elapsed() >= self.config.flush_age)
            || !state.frozen.is_empty()
    }

    /// Freeze the memtable and write it (and any earlier frozen memtable)
    /// to segments, swap the manifest and delete the covered WAL files.
    pub async fn flush(&self) -> Result<()> {
        let _guard = self.flush_lock.lock().await;
        let tx = self.tx.lock().clone().ok_or(Error::Closed)?;
        let (ack_tx, ack_rx) = oneshot::channel();
        tx.send(Command::Rotate { ack: ack_tx }).await.map_err(|_| Error::Closed)?;
        ack_rx.await.map_err(|_| Error::Closed)??;
        loop {
            let next = self.shared.state.read().frozen.first().cloned();
            let Some(frozen) = next else { break };
            let started = std::time::Instant::now();
            let flushed = self.flush_frozen(frozen).await;
            let result = if flushed.is_ok() { "ok" } else { "error" };
            tidewater_telemetry::metrics::FLUSH_SECONDS.observe_duration(&[result], started.elapsed());
            flushed?;
        }
        Ok(())
    }

    async fn flush_frozen(&self, frozen: Arc<Frozen>) -> Result<()> {
        let (mut manifest, schemas) = {
            let state = self.shared.state.read();
            (state.manifest.clone(), state.schemas.clone())
        };
        manifest.tables = schemas.iter().map(|(n, s)| (n.clone(), table_entry(s))).collect();
        let segments = self.segments.clone();
        let job_frozen = frozen.clone();
        let shared = Arc::clone(&self.shared);
        let staged = tokio::task::spawn_blocking(move || -> Result<Vec<_>> {
            let mut staged = Vec::new();
            let mut tables: Vec<_> = job_frozen.memtable.tables.iter().collect();
            tables.sort_by(|a, b| a.0.cmp(b.0));
            for (table, buf) in tables {
                let Some(schema) = schemas.get(table) else { continue };
                let batches = buf.batches.iter().map(|b| schema::adapt(b, schema)).collect::<Result<Vec<_>>>()?;
                staged.extend(segment::write_table(&segments, table, schema, &batches, &shared.next_segment_id)?);
            }
            Ok(staged)
        })
        .await
        .map_err(join_error)??;
        // Uploaded (remote store) before any manifest names them.
        let written = self.segments.publish_all(staged).await?;
        manifest.seq += 1;
        manifest.next_segment_id = self.shared.next_segment_id.load(Ordering::SeqCst);
        manifest.wal_flushed_through = frozen.wal_through;
        manifest.segments.extend(written);
        self.manifests.store(&manifest).await?;
        let through = manifest.wal_flushed_through;
        let new_segments = manifest.segments.len();
        {
            let mut state = self.shared.state.write();
            state.manifest = manifest;
            state.frozen.retain(|f| !Arc::ptr_eq(f, &frozen));
        }
        let wal_dir = self.config.data_dir.join("wal");
        for id in wal::list_files(&wal_dir)? {
            if id <= through {
                let p = wal::file_path(&wal_dir, id);
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        tracing::info!(
            rows = frozen.memtable.tables.values().map(|t| t.rows).sum::<usize>(),
            segments = new_segments,
            wal_through = through,
            "flushed memtable"
        );
        Ok(())
    }

    /// Run the background flusher until the store is closed. Each second it
    /// flushes when due, applies retention, deletes files whose grace period
    /// ended, and starts a compaction (as its own task, one at a time) when a
    /// partition has enough small segments.
    pub fn spawn_flusher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let store = Arc::downgrade(self);
        // (consecutive compaction failures, no new attempt before)
        let backoff = Arc::new(Mutex::new((0u32, std::time::Instant::now())));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(store) = store.upgrade() else { break };
                if store.tx.lock().is_none() {
                    break;
                }
                if store.flush_due() {
                    if let Err(e) = store.flush().await {
                        tracing::error!(error = %e, "flush failed; will retry");
                    }
                }
                if let Err(e) = store.apply_retention().await {
                    tracing::error!(error = %e, "retention failed; will retry");
                }
                if let Err(e) = store.delete_expired_files().await {
                    tracing::error!(error = %e, "deleting replaced segment files failed; will retry");
                }
                let retry_ok = backoff.lock().1 <= std::time::Instant::now();
                if retry_ok && !store.compaction_running() && store.compaction_due() {
                    let (job, backoff) = (store.clone(), backoff.clone());
                    tokio::spawn(async move {
                        let result = job.compact().await;
                        let mut b = backoff.lock();
                        match result {
                            Ok(_) | Err(Error::Closed) => *b = (0, std::time::Instant::now()),
                            Err(e) => {
                                b.0 = b.0.saturating_add(1);
                                let wait = Duration::from_secs(1 << b.0.min(8));
                                b.1 = std::time::Instant::now() + wait;
                                tracing::error!(error = %e, failures = b.0, retry_in_secs = wait.as_secs(),
                                    "compaction failed; its inputs stay live");
                            }
                        }
                    });
                }
            }
        })
    }

    /// Make `manifest` (edited from the current one, `seq` not yet bumped)
    /// the new durable version. The caller holds `flush_lock`.
    pub(crate) async fn commit_manifest(&self, mut manifest: Manifest) -> Result<()> {
        manifest.seq += 1;
        manifest.next_segment_id = manifest.next_segment_id.max(self.shared.next_segment_id.load(Ordering::SeqCst));
        self.manifests.store(&manifest).await?;
        self.shared.state.write().manifest = manifest;
        Ok(())
    }

    /// Flush what is buffered, stop the writer thread and refuse further writes.
    ///
    /// A running compaction is stopped early (its inputs stay live).
    pub async fn close(&self) -> Result<()> {
        self.closing.store(true, Ordering::SeqCst);
        drop(self.compaction_lock.lock().await);
        let flushed = self.flush().await;
        self.tx.lock().take();
        let handle = self.writer.lock().take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
        flushed
    }
}

fn truncate(path: &std::path::Path, len: u64) -> Result<()> {
    let f = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
    f.set_len(len).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// The segment files (relative paths) the manifest does not list as live:
/// files of replaced or dropped segments whose deletion was pending, and
/// files of a flush or compaction interrupted before its manifest swap. The
/// caller deletes them.
fn orphans(files: Vec<String>, manifest: &Manifest) -> Vec<String> {
    let live: std::collections::HashSet<&str> = manifest.segments.iter().map(|s| s.path.as_str()).collect();
    let pending: std::collections::HashSet<&str> = manifest.pending_deletes.iter().map(|p| p.path.as_str()).collect();
    let mut out = Vec::new();
    for rel in files {
        if live.contains(rel.as_str()) {
            continue;
        }
        if pending.contains(rel.as_str()) {
            tracing::info!(file = %rel, "deleting segment file replaced or dropped before the restart");
        } else {
            tracing::warn!(file = %rel, "removing segment file not in the manifest (flush or compaction interrupted before the manifest swap)");
        }
        out.push(rel);
    }
    out
}

/// With object storage, refuse a data directory that holds a local manifest:
/// its segments are local and would silently disappear from queries.
fn refuse_local_manifest(data_dir: &std::path::Path) -> Result<()> {
    let dir = data_dir.join("manifest");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    for entry in entries {
        let name = entry.map_err(|e| Error::io(&dir, e))?.file_name();
        if name.to_string_lossy().ends_with(".json") {
            return Err(Error::Config(format!(
                "{} holds a local manifest, but object storage is configured; local segments are not moved \
                 to object storage (use another data directory, or remove the object storage setting)",
                dir.display()
            )));
        }
    }
    Ok(())
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::io("<storage task>", std::io::Error::other(e.to_string()))
}

fn table_entry(schema: &SchemaRef) -> TableEntry {
    TableEntry {
        columns: schema
            .fields()
            .iter()
            .map(|f| ColumnEntry { name: f.name().clone(), data_type: f.data_type().to_string() })
            .collect(),
        metadata: schema.metadata().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

fn schemas_from_manifest(m: &Manifest) -> Result<HashMap<String, SchemaRef>> {
    let mut out = HashMap::new();
    for (name, entry) in &m.tables {
        let mut fields = Vec::with_capacity(entry.columns.len());
        for c in &entry.columns {
            let dt = DataType::from_str(&c.data_type).map_err(|e| Error::Corrupt {
                what: "manifest",
                path: PathBuf::from("manifest"),
                reason: format!("table {name} column {}: {e}", c.name),
            })?;
            fields.push(Field::new(&c.name, dt, true));
        }
        let metadata = entry.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        out.insert(name.clone(), Arc::new(Schema::new_with_metadata(fields, metadata)));
    }
    Ok(out)
}
