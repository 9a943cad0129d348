//! The seam between the scheduler and whatever carries a message away: the
//! SMTP submitter in production, a capture folder in the shipped default
//! configuration, and scripted fakes in the scheduler's tests.

use std::fs::File;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use vmail_core::{Envelope, JobId, Outcome};
use vmail_smtp::{SmtpError, TranscriptLine};

/// One job handed to a deliverer. The message stays on disk; the deliverer
/// streams it from `message`, the file the worker opened when it read the
/// job, skipping `body_offset` bytes of envelope header, so a 1 MB job is
/// never whole in memory and the file is opened once per attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: JobId,
    pub envelope: Envelope,
    pub message_path: PathBuf,
    pub message: Arc<File>,
    pub body_offset: u64,
    pub size: u64,
}

impl Attempt {
    /// The message, positioned after the envelope header, on its own file
    /// description (a duplicate: no open, and no shared read position).
    pub fn body(&self) -> std::io::Result<File> {
        let mut file = self.message.try_clone()?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(self.body_offset))?;
        Ok(file)
    }
}

/// What happened to one job.
#[derive(Debug, Clone)]
pub struct Report {
    /// The job as a whole: delivered when every recipient was accepted.
    pub outcome: Outcome,
    /// Per recipient, when the server answered them one by one; empty when
    /// the attempt ended before `RCPT` (connection, TLS, AUTH).
    pub recipients: Vec<(String, Outcome)>,
    /// The session's lines that concern this job (already redacted by the
    /// submitter): the session's opening, then the job's own, each with
    /// the moment it was sent or received. Written at debug=2.
    pub transcript: Vec<TranscriptLine>,
    /// Warnings worth a line in the job's log at any debug level (sent
    /// without AUTH, certificate not verified, ...), and what to do about
    /// the error.
    pub notes: Vec<String>,
    /// The submitter's error behind a non-delivered outcome, typed (the
    /// outcome keeps only its text, as `vmail-core` cannot name it): its
    /// row in vmail-smtp's table gives the class, the reply and the advice.
    /// `None` for other deliverers and for errors outside the session.
    pub error: Option<Arc<SmtpError>>,
    /// The mail server that took the session (`host:port`), when the
    /// deliverer knows it: with several in `mail-server`, the status file's
    /// last delivery and last error belong to the one that answered, not to
    /// the list. `None` means the deliverer's destination.
    pub server: Option<String>,
}

impl Report {
    pub fn new(outcome: Outcome) -> Report {
        Report {
            outcome,
            recipients: Vec::new(),
            transcript: Vec::new(),
            notes: Vec::new(),
            error: None,
            server: None,
        }
    }

    /// Keeps the error and adds its advice (the `[VMAIL]` key to change,
    /// the same words as `vfxadmin check`) to the notes, so the job's log
    /// read alone says what to fix, not only what failed.
    pub fn with_error(mut self, error: Arc<SmtpError>) -> Report {
        if let Some(advice) = error.advice() {
            self.notes.push(format!("what to do: {advice}"));
        }
        self.error = Some(error);
        self
    }
}

/// A report handed over, and the signal that it has been recorded.
pub type Settling = (usize, Report, oneshot::Sender<()>);

/// Where a deliverer hands each job's report the moment the server has
/// answered for it. The job is recorded (its log, its state, `sent/` or
/// `failed/`) by the worker; a deliverer must see that record finished
/// before it lets the server take another message (for SMTP: before the
/// next final dot), so a crash can resend at most the one message whose
/// reply was in flight, never the ones the server had accepted before it.
#[derive(Debug)]
pub struct ReportSink {
    tx: mpsc::Sender<Settling>,
}

impl ReportSink {
    /// A sink and the receiving end the worker settles from.
    pub fn channel() -> (ReportSink, mpsc::Receiver<Settling>) {
        let (tx, rx) = mpsc::channel(1);
        (ReportSink { tx }, rx)
    }

    /// Hands over the report of the batch's `index`th attempt and waits
    /// until it is recorded.
    pub async fn settle(&self, index: usize, report: Report) {
        self.hand_over(index, report).await.await;
    }

    /// Hands over the report of the batch's `index`th attempt; the returned
    /// future finishes when the worker has recorded it. Meanwhile the
    /// deliverer may prepare the next message, but not let the server take
    /// it. A worker that is gone (it panicked) is not waited for: its jobs
    /// are the scheduler's again.
    pub async fn hand_over(&self, index: usize, report: Report) -> Recorded {
        let (done, recorded) = oneshot::channel();
        let handed = self.tx.send((index, report, done)).await.is_ok();
        Recorded {
            recorded: handed.then_some(recorded),
        }
    }
}

/// The worker's word that a handed-over report is on disk.
#[derive(Debug)]
pub struct Recorded {
    recorded: Option<oneshot::Receiver<()>>,
}

impl Recorded {
    /// Finishes when the record is written, or at once when the worker is
    /// gone.
    pub async fn wait(self) {
        if let Some(recorded) = self.recorded {
            let _ = recorded.await;
        }
    }
}

impl std::future::IntoFuture for Recorded {
    type Output = ();
    type IntoFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

/// Carries a batch of jobs away, over one connection where it can, and
/// hands each job's report to `sink` as soon as it is known, in any order.
/// A job it reports nothing for is deferred by the worker.
pub trait Deliver: Send + Sync + 'static {
    fn deliver(&self, batch: Vec<Attempt>, sink: ReportSink) -> impl Future<Output = ()> + Send;

    /// Where the jobs go, for logs: `smtp.example.com:587` or a folder.
    fn destination(&self) -> String;
}
