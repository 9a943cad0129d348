//! The status file, `<spool>/vmaild.status.json`: what the running daemon
//! knows and the spool does not (its pid and start, the relay it uses, its
//! counts since the start, the last delivery and the last error of each
//! host), for `vfxadmin status`, which must work with the metrics endpoint
//! off. vmaild rewrites it atomically (temp file, rename) every few
//! seconds while something changed, and marks it stopped on its way out.
//! The queue's own figures are not in it: the spool is their truth, and
//! [`census`] reads them from there.

use crate::metrics::Metrics;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::warn;
use vmail_core::JobId;
use vmail_spool::Spool;

/// The file's name in the spool root, beside `vmaild.pid`.
pub const STATUS_FILE: &str = "vmaild.status.json";

/// Where the status file of the spool at `root` is.
pub fn status_path(root: &Path) -> PathBuf {
    root.join(STATUS_FILE)
}

/// What the daemon says about itself. Times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub version: String,
    /// False once the daemon has stopped cleanly.
    pub running: bool,
    pub started: String,
    pub config: PathBuf,
    /// Where jobs go: `host:port` or the capture folder.
    pub relay: String,
    pub metrics_listen: Option<String>,
    pub daemon_log: PathBuf,
    pub sessions_open: i64,
    /// Since the start: jobs delivered and failed, attempts deferred,
    /// failure notices queued.
    pub delivered: u64,
    pub failed: u64,
    pub deferred: u64,
    pub notices: u64,
    pub last_delivery: Option<String>,
    pub hosts: Vec<HostStatus>,
}

/// One mail server the daemon delivered through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStatus {
    pub host: String,
    pub last_delivery: Option<String>,
    pub last_error: Option<HostError>,
}

/// The last attempt through a host that did not deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostError {
    pub at: String,
    pub job: String,
    /// The outcome as the job's log words it, with the server's reply.
    pub text: String,
    /// The job's log: the next thing to read.
    pub log: PathBuf,
}

/// Why the status file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a status file vmaild wrote: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DaemonStatus {
    /// Reads the status file of the spool at `root`; `Ok(None)` when there
    /// is none (vmaild never ran on this spool, or is older).
    pub fn read(root: &Path) -> Result<Option<DaemonStatus>, StatusFileError> {
        let path = status_path(root);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StatusFileError::Read { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| StatusFileError::Parse { path, source })
    }

    /// Writes it for the spool at `root`: a temp file in `tmp/`, renamed
    /// over the old one, so a reader sees one whole file or the other. Not
    /// synced: after a power cut the file may be old, which its `running`
    /// and pid tell apart from a live daemon.
    pub fn write(&self, root: &Path) -> Result<(), StatusFileError> {
        let path = status_path(root);
        let tmp = root.join("tmp").join(format!("{STATUS_FILE}.{}", self.pid));
        let text = serde_json::to_string_pretty(self).map_err(|source| StatusFileError::Parse {
            path: path.clone(),
            source,
        })?;
        // 0640 like every file of the spool, whatever the umask: the
        // status names the relay and the last errors.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(vmail_spool::FILE_MODE)
            .open(&tmp)
            .and_then(|mut file| {
                file.set_permissions(std::fs::Permissions::from_mode(vmail_spool::FILE_MODE))?;
                file.write_all((text + "\n").as_bytes())
            });
        written
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| StatusFileError::Write { path, source })
    }
}

/// How often the daemon looks whether its status changed.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// Keeps the status file of `spool` current while the daemon runs: written
/// at once, then whenever the facts change. Abort the task at the end and
/// write the stopped status.
pub fn keep_written(metrics: Metrics, spool: Arc<Spool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STATUS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut written: Option<DaemonStatus> = None;
        let mut warned = false;
        loop {
            tick.tick().await;
            let status = metrics.status(&spool);
            if written.as_ref() == Some(&status) {
                continue;
            }
            let root = spool.root().to_path_buf();
            let copy = status.clone();
            match tokio::task::spawn_blocking(move || copy.write(&root)).await {
                Ok(Ok(())) => {
                    written = Some(status);
                    warned = false;
                }
                Ok(Err(err)) if !warned => {
                    warn!("{err}; vfxadmin status cannot tell what vmaild is doing");
                    warned = true;
                }
                Ok(Err(_)) | Err(_) => {}
            }
        }
    })
}

/// The queue as the disk holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    pub queued: usize,
    /// Held by an administrator.
    pub held: usize,
    /// Tried at least once and waiting for a retry (not held).
    pub deferred: usize,
    pub oldest: Option<Oldest>,
}

/// The job that has waited longest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oldest {
    pub id: JobId,
    pub first_queued: SystemTime,
}

/// Counts the jobs in `queue/` by reading each one's state record. A job
/// whose record cannot be read (it was delivered meanwhile, or is corrupt)
/// counts as queued only. The directory is walked, never listed whole: a
/// scrape of a million-job queue must not hold a million ids.
pub fn census(spool: &Spool) -> Census {
    let mut census = Census::default();
    let Ok(ids) = spool.queue_ids() else {
        return census;
    };
    for id in ids.flatten() {
        census.queued += 1;
        let Ok(state) = spool.state(&id) else {
            continue;
        };
        if state.held {
            census.held += 1;
        } else if state.attempts > 0 {
            census.deferred += 1;
        }
        // Ties go to the smaller id, so the answer does not depend on
        // the directory's order.
        let older = census
            .oldest
            .as_ref()
            .is_none_or(|oldest| (state.first_queued, &id) < (oldest.first_queued, &oldest.id));
        if older {
            census.oldest = Some(Oldest {
                id,
                first_queued: state.first_queued,
            });
        }
    }
    census
}

/// A time as the status file writes it: RFC 3339, UTC, whole seconds.
pub fn timestamp(at: SystemTime) -> String {
    vmail_spool::format_time(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        assert!(DaemonStatus::read(dir.path()).unwrap().is_none());
        let status = DaemonStatus {
            pid: 42,
            version: "0.1.0".into(),
            running: true,
            started: "2026-12-02T01:00:00Z".into(),
            config: "/etc/vmail/vsisrv.ini".into(),
            relay: "mx.example.test:25".into(),
            metrics_listen: None,
            daemon_log: "/var/spool/vmail/logs/vmail".into(),
            sessions_open: 0,
            delivered: 3,
            failed: 1,
            deferred: 0,
            notices: 1,
            last_delivery: None,
            hosts: Vec::new(),
        };
        status.write(dir.path()).unwrap();
        assert_eq!(DaemonStatus::read(dir.path()).unwrap(), Some(status));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        std::fs::write(status_path(dir.path()), "{").unwrap();
        let err = DaemonStatus::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is not a status file vmaild wrote"), "{err}");
    }
}
