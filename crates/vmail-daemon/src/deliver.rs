//! The seam between the scheduler and whatever carries a message away: the
//! SMTP submitter in production, a capture folder in the shipped default
//! configuration, and scripted fakes in the scheduler's tests.

use std::future::Future;
use std::path::PathBuf;
use vmail_core::{Envelope, JobId, Outcome};

/// One job handed to a deliverer. The message stays on disk; the deliverer
/// streams it from `message_path`, skipping `body_offset` bytes of envelope
/// header, so a 1 MB job never sits whole in memory.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: JobId,
    pub envelope: Envelope,
    pub message_path: PathBuf,
    pub body_offset: u64,
    pub size: u64,
}

/// What happened to one job.
#[derive(Debug, Clone)]
pub struct Report {
    /// The job as a whole: delivered when every recipient was accepted.
    pub outcome: Outcome,
    /// Per recipient, when the server answered them one by one; empty when
    /// the attempt ended before `RCPT` (connection, TLS, AUTH).
    pub recipients: Vec<(String, Outcome)>,
    /// The session's transcript lines that concern this job (already
    /// redacted by the submitter), written to the job's log at debug=2.
    pub transcript: Vec<String>,
    /// Warnings worth a line in the job's log at any debug level (sent
    /// without AUTH, certificate not verified, ...).
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(outcome: Outcome) -> Report {
        Report {
            outcome,
            recipients: Vec::new(),
            transcript: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Carries a batch of jobs away, over one connection where it can. Returns
/// one report per attempt, in the order given.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(&self, batch: Vec<Attempt>) -> impl Future<Output = Vec<Report>> + Send;

    /// Where the jobs go, for logs: `smtp.example.com:587` or a folder.
    fn destination(&self) -> String;
}
