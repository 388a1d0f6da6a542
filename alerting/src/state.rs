//! Alert state on disk: one file per group under `{data_dir}/alerts/`,
//! written atomically (temp file, fsync, rename, directory fsync), so a
//! restart resumes pending alerts (their pending-since kept) and does not
//! page again for firing ones.
//!
//! Format: a header line `TWALERTS 1 <crc32c of the body, hex>` then the
//! JSON body ([`GroupState`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::eval::alert::Alert;

const MAGIC: &str = "TWALERTS";
const VERSION: u32 = 1;

/// What is kept of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's key (file and name).
    pub group: String,
    /// Alert instances per rule key.
    pub rules: BTreeMap<String, Vec<Alert>>,
}

/// The directory of state files.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// State files under `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file of the group with `key`.
    pub fn path(&self, key: &str) -> PathBuf {
        let readable: String =
            key.rsplit(';').next().unwrap_or(key).chars().filter(|c| c.is_ascii_alphanumeric()).take(40).collect();
        self.dir.join(format!("{readable}-{:08x}.state", crc32c::crc32c(key.as_bytes())))
    }

    /// Write `state` atomically. Blocking: call from `spawn_blocking`.
    pub fn save(&self, state: &GroupState) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(format!("creating {}", self.dir.display()), e))?;
        let body =
            serde_json::to_vec(state).map_err(|e| Error::State { path: self.dir.clone(), reason: e.to_string() })?;
        let path = self.path(&state.group);
        let tmp = path.with_extension("state.tmp");
        let io = |e| Error::io(format!("writing {}", tmp.display()), e);
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(format!("{MAGIC} {VERSION} {:08x}\n", crc32c::crc32c(&body)).as_bytes()).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// The saved state of the group `key`, if any. Blocking.
    pub fn load(&self, key: &str) -> Result<Option<GroupState>> {
        let path = self.path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let bad = |reason: &str| Error::State { path: path.clone(), reason: reason.to_string() };
        let nl = bytes.iter().position(|b| *b == b'\n').ok_or_else(|| bad("no header"))?;
        let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| bad("header is not text"))?;
        let mut parts = header.split(' ');
        if parts.next() != Some(MAGIC) {
            return Err(bad("not an alert state file"));
        }
        if parts.next() != Some(&VERSION.to_string()) {
            return Err(bad("unknown version"));
        }
        let crc =
            parts.next().and_then(|c| u32::from_str_radix(c, 16).ok()).ok_or_else(|| bad("bad checksum field"))?;
        let body = &bytes[nl + 1..];
        if crc32c::crc32c(body) != crc {
            return Err(bad("checksum mismatch"));
        }
        let state: GroupState = serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
        Ok((state.group == key).then_some(state))
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        if let Err(e) = d.sync_all() {
            tracing::warn!(dir = %dir.display(), error = %e, "fsync of the alert state directory failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::alert::AlertState;

    #[test]
    fn saves_atomically_and_detects_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sd = StateDir::new(dir.path().join("alerts"));
        assert_eq!(sd.load("f;g").expect("load"), None);
        let alert = Alert {
            labels: [("alertname".to_string(), "X".to_string())].into(),
            annotations: Default::default(),
            state: AlertState::Pending,
            value: 1.5,
            active_at: chrono::Utc::now(),
            fired_at: None,
            resolved_at: None,
            last_sent_at: None,
            valid_until: None,
            keep_firing_since: None,
        };
        let st = GroupState { group: "f;g".into(), rules: [("X".to_string(), vec![alert])].into() };
        sd.save(&st).expect("save");
        assert_eq!(sd.load("f;g").expect("load"), Some(st));
        let path = sd.path("f;g");
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).expect("write");
        assert!(sd.load("f;g").unwrap_err().to_string().contains("checksum"));
    }
}
