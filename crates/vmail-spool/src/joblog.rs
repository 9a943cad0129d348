//! Per-job logs, `logs/<id>.log`: one timestamped line per event, appended
//! (`O_APPEND`, one write per line or per [`LogLines`], so lines from
//! several processes never interleave), readable by `vfxadmin queue show`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use vmail_core::JobId;

use crate::error::SpoolError;
use crate::fsutil::FILE_MODE;
use crate::spool::Spool;

/// An open job log.
#[derive(Debug)]
pub struct JobLog {
    file: File,
    path: PathBuf,
}

impl JobLog {
    /// Appends one line: `2026-11-23T19:42:00.123Z <line>`. Newlines inside
    /// `line` become ` / ` so an event stays one line.
    pub fn append(&mut self, line: &str) -> Result<(), SpoolError> {
        let mut lines = LogLines::default();
        lines.line(line);
        self.append_lines(&mut lines)
    }

    /// Appends a line that already carries its time (a queue entry's note,
    /// stamped when the job was submitted).
    pub fn append_stamped(&mut self, line: &str) -> Result<(), SpoolError> {
        let mut lines = LogLines::default();
        lines.stamped(line);
        self.append_lines(&mut lines)
    }

    /// Appends the gathered `lines` with one write, and empties them.
    pub fn append_lines(&mut self, lines: &mut LogLines) -> Result<(), SpoolError> {
        if lines.text.is_empty() {
            return Ok(());
        }
        let written = self
            .file
            .write_all(lines.text.as_bytes())
            .map_err(SpoolError::io("append to", &self.path));
        lines.text.clear();
        written
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Lines for a job's log, each stamped when it is added, gathered to be
/// written together: the daemon's record of an attempt is four or five
/// lines, and one write each was most of what recording it cost.
#[derive(Debug, Default)]
pub struct LogLines {
    text: String,
}

impl LogLines {
    /// Adds `2026-11-23T19:42:00.123Z <line>`; newlines inside `line`
    /// become ` / ` so an event stays one line.
    pub fn line(&mut self, line: &str) {
        let flat = line
            .trim_end()
            .replace("\r\n", " / ")
            .replace(['\n', '\r'], " / ");
        self.stamped(&format!("{} {flat}", stamp_now()));
    }

    /// Adds a line that already carries its time.
    pub fn stamped(&mut self, line: &str) {
        self.text
            .extend(line.trim_end().chars().map(crate::entry::printable));
        self.text.push('\n');
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// The time as job logs write it: `2026-11-23T19:42:00.123Z`.
pub(crate) fn stamp_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Spool {
    /// Opens (creating, mode 0640) the log of job `id`. The job need not be
    /// queued: a log outlives its job.
    pub fn job_log(&self, id: &JobId) -> Result<JobLog, SpoolError> {
        let path = self.log_path(id);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(SpoolError::io("open", &path))?;
        crate::fsutil::adopt(&file, &path)?;
        Ok(JobLog { file, path })
    }

    /// The whole log of job `id` (empty when it has none).
    pub fn read_job_log(&self, id: &JobId) -> Result<String, SpoolError> {
        let path = self.log_path(id);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(err) => Err(SpoolError::io("read", &path)(err)),
        }
    }
}
