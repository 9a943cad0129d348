//! Finding a job wherever it is: `queue/`, or finished in `sent/` or
//! `failed/` (same file format: the envelope header, then the message).

use anyhow::anyhow;
use std::io::BufReader;
use std::path::PathBuf;
use vmail_core::{Envelope, JobId};
use vmail_spool::{JobState, Spool};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    Queue,
    Sent,
    Failed,
}

impl Where {
    pub fn name(self) -> &'static str {
        match self {
            Where::Queue => "queue",
            Where::Sent => "sent",
            Where::Failed => "failed",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Where::Queue => "queued",
            Where::Sent => "delivered, in sent/",
            Where::Failed => "failed for good, in failed/",
        }
    }
}

/// A job found somewhere in the spool.
#[derive(Debug, Clone)]
pub struct Found {
    pub place: Where,
    pub path: PathBuf,
    pub envelope: Envelope,
    /// The submitter's first log line, kept in the entry until vmaild
    /// writes the log.
    pub note: Option<String>,
    /// Bytes of the message (without the envelope header).
    pub size: u64,
    /// The state record (a finished job that was never tried has none).
    pub state: Option<JobState>,
}

/// The job `id` in `queue/`, else `sent/`, else `failed/`; an error naming
/// the id and the spool when it is nowhere.
pub fn find(spool: &Spool, id: &JobId) -> anyhow::Result<Found> {
    match spool.load(id) {
        Ok(job) => {
            return Ok(Found {
                place: Where::Queue,
                path: job.message_path,
                envelope: job.envelope,
                note: job.note,
                size: job.size,
                state: Some(job.state),
            });
        }
        Err(e) if e.is_unknown_job() => {}
        Err(e) => return Err(anyhow!("{e}")),
    }
    for (place, dir) in [
        (Where::Sent, spool.sent_dir()),
        (Where::Failed, spool.failed_dir()),
    ] {
        let path = dir.join(id.as_str());
        if path.exists() {
            return read_finished(place, path, dir.join(format!("{id}.state")));
        }
    }
    Err(anyhow!(
        "no job {id} in the spool {} (not in queue/, sent/ or failed/)",
        spool.root().display()
    ))
}

fn read_finished(place: Where, path: PathBuf, state_path: PathBuf) -> anyhow::Result<Found> {
    let file =
        std::fs::File::open(&path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let header = vmail_spool::read_header(&mut BufReader::new(file))
        .map_err(|why| anyhow!("{}: {why}", path.display()))?;
    let state = match std::fs::read_to_string(&state_path) {
        Ok(text) => {
            Some(JobState::read(&text).map_err(|why| anyhow!("{}: {why}", state_path.display()))?)
        }
        Err(_) => None,
    };
    Ok(Found {
        place,
        path,
        envelope: header.envelope,
        note: header.note,
        size: total.saturating_sub(header.len),
        state,
    })
}
