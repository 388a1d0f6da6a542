//! Reloading the TLS files without a restart: on SIGHUP, and when the
//! modification time or size of one of them changes (checked every
//! `reload_check_secs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use super::Tls;

/// What is known of one file: its modification time and size (None: unreadable).
type Stamp = Option<(SystemTime, u64)>;

/// Watch the files of `tls` until the task is aborted.
pub fn spawn(tls: Arc<Tls>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let files = files(&tls);
        let mut seen = stamps(&files);
        let every = Duration::from_secs(tls.section().reload_check_secs);
        let mut hup = sighup();
        loop {
            let why = tokio::select! {
                _ = recv(&mut hup) => "SIGHUP",
                _ = tick(every) => "files changed",
            };
            let now = stamps(&files);
            if why != "SIGHUP" && now == seen {
                continue;
            }
            seen = now;
            match tls.reload() {
                Ok(()) => tracing::info!(reason = why, "tls certificate reloaded"),
                Err(e) => tracing::warn!(reason = why, error = %e, "tls reload failed; the previous certificate stays"),
            }
        }
    })
}

fn files(tls: &Tls) -> Vec<PathBuf> {
    let s = tls.section();
    [&s.cert_file, &s.key_file, &s.client_ca_file].into_iter().filter(|p| !p.as_os_str().is_empty()).cloned().collect()
}

fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files.iter().map(|f| std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len())))).collect()
}

async fn tick(every: Duration) {
    if every.is_zero() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(every).await;
}

#[cfg(unix)]
type Hup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hup = Option<()>;

#[cfg(unix)]
fn sighup() -> Hup {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGHUP; tls files are reloaded when they change only");
            None
        }
    }
}

#[cfg(not(unix))]
fn sighup() -> Hup {
    None
}

#[cfg(unix)]
async fn recv(hup: &mut Hup) {
    match hup {
        Some(s) => {
            if s.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn recv(_: &mut Hup) {
    std::future::pending::<()>().await;
}
