//! The daemon log `spool/logs/vmail`, also copied to stderr for journald.
//!
//! Rotated by size (`[VMAIL] max-debug-log`) rather than by day, because a
//! relay that is quiet for weeks and then logs a full transcript for a burst
//! of jobs should neither produce a pile of tiny files nor one huge one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tracing_subscriber::fmt::MakeWriter;

/// How many rotated files (`vmail.1` .. `vmail.N`) are kept.
const KEEP_ROTATED: u32 = 3;

/// A log file that starts a new file once it has grown past `max_bytes`.
#[derive(Clone)]
pub struct RotatingLog {
    inner: Arc<Mutex<RotatingState>>,
}

struct RotatingState {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
}

impl RotatingLog {
    /// Opens (appending) or creates the log at `path`. `max_bytes` 0 never
    /// rotates.
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<RotatingLog> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        Ok(RotatingLog {
            inner: Arc::new(Mutex::new(RotatingState {
                path: path.to_path_buf(),
                file,
                written,
                max_bytes,
            })),
        })
    }

    /// A new size limit after a reload.
    pub fn set_max_bytes(&self, max_bytes: u64) {
        self.lock().max_bytes = max_bytes;
    }

    fn lock(&self) -> MutexGuard<'_, RotatingState> {
        // A panic while holding the lock leaves a consistent state (a file
        // handle and a counter), so a poisoned lock is simply taken over.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

impl RotatingState {
    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..KEEP_ROTATED).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// One formatted event: written to the file and to stderr as a whole line.
pub struct LogLine<'a> {
    log: &'a RotatingLog,
    buffer: Vec<u8>,
}

impl Write for LogLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine<'_> {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let mut state = self.log.lock();
        let len = self.buffer.len() as u64;
        if state.max_bytes > 0 && state.written > 0 && state.written + len > state.max_bytes {
            // If rotation fails (a read-only spool, say) keep writing to the
            // old file: losing log lines is worse than a large file.
            if let Err(err) = state.rotate() {
                let _ = writeln!(io::stderr(), "vmaild: cannot rotate the daemon log: {err}");
            }
        }
        if state.file.write_all(&self.buffer).is_ok() {
            state.written += len;
        }
        drop(state);
        let _ = io::stderr().write_all(&self.buffer);
    }
}

impl<'a> MakeWriter<'a> for RotatingLog {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine {
            log: self,
            buffer: Vec::with_capacity(256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_past_its_size_and_keeps_three_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmail");
        let log = RotatingLog::open(&path, 100).unwrap();
        for i in 0..40 {
            let mut line = log.make_writer();
            writeln!(line, "line {i:02} of the daemon log").unwrap();
        }
        assert!(fs::metadata(&path).unwrap().len() <= 100);
        for n in 1..=3 {
            assert!(numbered(&path, n).exists(), "vmail.{n} missing");
        }
        assert!(!numbered(&path, 4).exists());
        let newest = fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with("line 39 of the daemon log\n"), "{newest}");
    }
}
