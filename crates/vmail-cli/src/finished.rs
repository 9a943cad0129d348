//! Finding a job wherever it is: `queue/`, or finished in `sent/` or
//! `failed/` (same file format: the envelope header, then the message).

use anyhow::anyhow;
use std::io::{BufRead, BufReader};
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
    let (envelope, header_len) = read_envelope(&mut BufReader::new(file))
        .map_err(|why| anyhow!("{}: {why}", path.display()))?;
    let state = match std::fs::read_to_string(&state_path) {
        Ok(text) => {
            Some(JobState::parse(&text).map_err(|why| anyhow!("{}: {why}", state_path.display()))?)
        }
        Err(_) => None,
    };
    Ok(Found {
        place,
        path,
        envelope,
        size: total.saturating_sub(header_len),
        state,
    })
}

/// `F<sender>`, `T<recipient>` lines, a blank line. Returns the envelope
/// and the header's length in bytes.
fn read_envelope(reader: &mut impl BufRead) -> Result<(Envelope, u64), String> {
    let mut from = None;
    let mut recipients = Vec::new();
    let mut consumed = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the envelope: {e}"))?;
        consumed += n as u64;
        let text = line.trim_end_matches('\n');
        match (n, text.chars().next()) {
            (0, _) => return Err("the envelope has no end".to_string()),
            (_, None) => break,
            (_, Some('F')) => from = Some(text[1..].to_string()),
            (_, Some('T')) => recipients.push(text[1..].to_string()),
            _ => return Err(format!("unexpected envelope line {text:?}")),
        }
    }
    let from = from.ok_or("the envelope has no sender line")?;
    Ok((Envelope::new(from, recipients), consumed))
}
