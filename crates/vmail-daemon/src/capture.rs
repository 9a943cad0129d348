//! Capture mode (`mail-server = file:<dir>`): "delivers" each job by writing
//! its message as `<job-id>.eml` into a folder. It lets a new installation
//! see a job flow end to end before any mail server is configured, and it is
//! logged loudly at start so nobody mistakes it for real delivery.

use crate::deliver::{Attempt, Deliver, Report, ReportSink};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use vmail_core::{Outcome, Reply};

pub struct CaptureDeliverer {
    dir: PathBuf,
}

impl CaptureDeliverer {
    pub fn new(dir: PathBuf) -> CaptureDeliverer {
        CaptureDeliverer { dir }
    }

    fn capture(&self, attempt: &Attempt) -> io::Result<PathBuf> {
        create_capture_dir(&self.dir)?;
        let dest = self.dir.join(format!("{}.eml", attempt.id));
        let temp = self.dir.join(format!(".{}.eml.tmp", attempt.id));
        let source = attempt.body()?;
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&temp)?;
        write_envelope_headers(&mut out, attempt)?;
        io::copy(&mut source.take(attempt.size), &mut out)?;
        out.sync_all()?;
        fs::rename(&temp, &dest)?;
        Ok(dest)
    }
}

/// The envelope is not part of the message; a capture file shows it the way
/// a delivery agent would, so tests and people can see who it was for.
fn write_envelope_headers(out: &mut impl Write, attempt: &Attempt) -> io::Result<()> {
    writeln!(out, "Return-Path: <{}>", attempt.envelope.from)?;
    for recipient in &attempt.envelope.recipients {
        writeln!(out, "X-Vmail-Envelope-To: <{recipient}>")?;
    }
    writeln!(out, "X-Vmail-Job: {}", attempt.id)
}

impl Deliver for CaptureDeliverer {
    /// Writes and fsyncs on the blocking pool, like every other disk write
    /// of the daemon: the runtime thread keeps serving the scheduler.
    async fn deliver(&self, batch: Vec<Attempt>, sink: ReportSink) {
        for (index, attempt) in batch.into_iter().enumerate() {
            let capture = CaptureDeliverer {
                dir: self.dir.clone(),
            };
            let report = match tokio::task::spawn_blocking(move || capture.report(&attempt)).await {
                Ok(report) => report,
                Err(err) => Report::new(Outcome::Deferred {
                    reason: format!("the capture did not finish: {err}"),
                    reply: None,
                }),
            };
            sink.settle(index, report).await;
        }
    }

    fn destination(&self) -> String {
        format!("capture folder {}", self.dir.display())
    }
}

impl CaptureDeliverer {
    fn report(&self, attempt: &Attempt) -> Report {
        match self.capture(attempt) {
            Ok(path) => Report::new(Outcome::Delivered {
                reply: Reply::new(250, None, format!("captured as {}", path.display())),
            }),
            Err(err) => Report::new(Outcome::Deferred {
                reason: format!(
                    "cannot write to the capture folder {}: {err}",
                    self.dir.display()
                ),
                reply: None,
            }),
        }
    }
}

/// True when `dir` can hold captures, for the start-up check.
pub fn check_capture_dir(dir: &Path) -> io::Result<()> {
    create_capture_dir(dir)
}

/// Creates the capture folder (and any missing parent) with the spool's
/// folder mode, 0750: captured messages are mail, as private as `sent/`.
/// A folder that exists already is left as it is.
fn create_capture_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(vmail_spool::DIR_MODE)
        .create(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_capture_folder_is_created_0750_like_the_spool_folders() {
        let dir = tempfile::tempdir().unwrap();
        let capture = dir.path().join("spool/capture");
        check_capture_dir(&capture).unwrap();
        for made in [&capture, &dir.path().join("spool")] {
            let mode = fs::metadata(made).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o750, "{} is {mode:o}", made.display());
        }
    }
}
