//! The group-commit WAL writer: one OS thread owns the open WAL file.
//!
//! Requests queue on a bounded channel. The thread takes everything queued,
//! writes all records with one `write`, fsyncs once (per the sync policy),
//! inserts the batches into the active memtable and only then acknowledges
//! every request of the group. Rotation (start a new file, freeze the
//! memtable) runs on the same thread, between groups, so a frozen memtable
//! holds exactly the records of the WAL files it covers.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use tokio::sync::{mpsc, oneshot};

use crate::config::{FailPoint, SyncPolicy};
use crate::error::{Error, Result};
use crate::manifest::sync_dir;
use crate::store::{Frozen, Shared};
use crate::wal;

/// Most requests committed in one group.
const MAX_GROUP: usize = 1024;

/// A request to the writer thread.
pub(crate) enum Command {
    /// Append an encoded record; `tables` go to the memtable once durable.
    Append { record: Vec<u8>, tables: Vec<(String, RecordBatch)>, ack: oneshot::Sender<Result<()>> },
    /// Close the current file, open the next, freeze the memtable.
    Rotate { ack: oneshot::Sender<Result<Arc<Frozen>>> },
}

/// An append waiting in a group: encoded record, batches, acknowledgement.
type Pending = (Vec<u8>, Vec<(String, RecordBatch)>, oneshot::Sender<Result<()>>);

pub(crate) struct WalWriter {
    dir: PathBuf,
    file: File,
    id: u64,
    policy: SyncPolicy,
    last_sync: Instant,
    dirty: bool,
    failed: Option<String>,
    shared: Arc<Shared>,
    /// Testing only: where to fail (see [`FailPoint`]).
    fail_point: Option<FailPoint>,
    /// Commit groups written and fsyncs done, counted for `fail_point`.
    groups: u64,
    syncs: u64,
}

impl WalWriter {
    /// Open a fresh WAL file `id` in `dir`.
    pub(crate) fn create(
        dir: PathBuf,
        id: u64,
        policy: SyncPolicy,
        fail_point: Option<FailPoint>,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        let file = new_file(&dir, id)?;
        Ok(Self {
            dir,
            file,
            id,
            policy,
            last_sync: Instant::now(),
            dirty: false,
            failed: None,
            shared,
            fail_point,
            groups: 0,
            syncs: 0,
        })
    }

    /// Run until every sender is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        loop {
            let first = match self.policy {
                SyncPolicy::Interval(every) if self.dirty => {
                    match recv_timeout(&mut rx, every.saturating_sub(self.last_sync.elapsed())) {
                        Recv::Got(c) => c,
                        Recv::Timeout => {
                            self.sync_now();
                            continue;
                        }
                        Recv::Closed => break,
                    }
                }
                _ => match rx.blocking_recv() {
                    Some(c) => c,
                    None => break,
                },
            };
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(c) => group.push(c),
                    Err(_) => break,
                }
            }
            self.process(&mut group);
        }
        self.sync_now();
        tracing::debug!(wal_id = self.id, "wal writer stopped");
    }

    fn process(&mut self, group: &mut Vec<Command>) {
        let mut appends = Vec::new();
        for cmd in group.drain(..) {
            match cmd {
                Command::Append { record, tables, ack } => appends.push((record, tables, ack)),
                Command::Rotate { ack } => {
                    self.commit(std::mem::take(&mut appends));
                    let _ = ack.send(self.rotate());
                }
            }
        }
        self.commit(appends);
    }

    /// Write, sync, apply and acknowledge a group of appends.
    fn commit(&mut self, appends: Vec<Pending>) {
        if appends.is_empty() {
            return;
        }
        if let Err(e) = self.write_group(&appends) {
            tracing::error!(error = %e, wal_id = self.id, "WAL write failed; refusing further writes");
            self.failed = Some(e.to_string());
        }
        if let Some(reason) = &self.failed {
            for (_, _, ack) in appends {
                let _ =
                    ack.send(Err(Error::io(wal::file_path(&self.dir, self.id), std::io::Error::other(reason.clone()))));
            }
            return;
        }
        let mut acks = Vec::with_capacity(appends.len());
        {
            let mut state = self.shared.state.write();
            for (_, tables, ack) in appends {
                for (name, batch) in tables {
                    state.active.insert(&name, batch);
                }
                acks.push(ack);
            }
        }
        for ack in acks {
            let _ = ack.send(Ok(()));
        }
    }

    fn write_group(&mut self, appends: &[Pending]) -> Result<()> {
        if self.failed.is_some() {
            return Ok(());
        }
        let path = wal::file_path(&self.dir, self.id);
        let total: usize = appends.iter().map(|a| a.0.len()).sum();
        let mut buf = Vec::with_capacity(total);
        for (record, _, _) in appends {
            buf.extend_from_slice(record);
        }
        self.groups += 1;
        if self.fail_point == Some(FailPoint::WalShortWriteAt(self.groups)) {
            self.file.write_all(&buf[..buf.len() / 2]).map_err(|e| Error::io(&path, e))?;
            return Err(Error::io(&path, std::io::Error::other("fail point: short WAL write")));
        }
        self.file.write_all(&buf).map_err(|e| Error::io(&path, e))?;
        tidewater_telemetry::metrics::WAL_WRITTEN_BYTES.add(&[], buf.len() as u64);
        self.dirty = true;
        match self.policy {
            SyncPolicy::Always => self.sync()?,
            SyncPolicy::Interval(every) if self.last_sync.elapsed() >= every => self.sync()?,
            _ => {}
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        let path = wal::file_path(&self.dir, self.id);
        self.syncs += 1;
        if self.fail_point == Some(FailPoint::WalSyncErrorAt(self.syncs)) {
            return Err(Error::io(&path, std::io::Error::other("fail point: WAL fsync failed")));
        }
        let started = Instant::now();
        self.file.sync_data().map_err(|e| Error::io(&path, e))?;
        tidewater_telemetry::metrics::WAL_FSYNC_SECONDS.observe_duration(&[], started.elapsed());
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn sync_now(&mut self) {
        if self.dirty && self.failed.is_none() {
            if let Err(e) = self.sync() {
                tracing::error!(error = %e, "WAL fsync failed; refusing further writes");
                self.failed = Some(e.to_string());
            }
        }
    }

    fn rotate(&mut self) -> Result<Arc<Frozen>> {
        if let Some(reason) = &self.failed {
            return Err(Error::io(wal::file_path(&self.dir, self.id), std::io::Error::other(reason.clone())));
        }
        self.sync()?;
        let next = new_file(&self.dir, self.id + 1)?;
        let old_id = self.id;
        self.file = next;
        self.id += 1;
        let mut state = self.shared.state.write();
        let memtable = std::mem::take(&mut state.active);
        let frozen = Arc::new(Frozen { memtable, wal_through: old_id });
        state.frozen.push(frozen.clone());
        Ok(frozen)
    }
}

fn new_file(dir: &std::path::Path, id: u64) -> Result<File> {
    let path = wal::file_path(dir, id);
    let mut f =
        std::fs::OpenOptions::new().create_new(true).write(true).open(&path).map_err(|e| Error::io(&path, e))?;
    f.write_all(&wal::header()).map_err(|e| Error::io(&path, e))?;
    f.sync_all().map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    Ok(f)
}

enum Recv {
    Got(Command),
    Timeout,
    Closed,
}

/// Wait for a command for at most `wait` on a blocking thread.
fn recv_timeout(rx: &mut mpsc::Receiver<Command>, wait: Duration) -> Recv {
    let deadline = Instant::now() + wait;
    loop {
        match rx.try_recv() {
            Ok(c) => return Recv::Got(c),
            Err(mpsc::error::TryRecvError::Disconnected) => return Recv::Closed,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        if Instant::now() >= deadline {
            return Recv::Timeout;
        }
        std::thread::sleep(Duration::from_millis(1).min(wait));
    }
}
