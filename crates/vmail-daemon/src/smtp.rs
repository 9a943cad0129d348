//! Delivery through a real mail server: a batch of attempts is one SMTP
//! session of the submitter (one login, `RSET` between messages), and each
//! job's report goes to the worker the moment the server has answered its
//! data: the job is recorded at its own 250. The record is written while
//! the next message's envelope and data go out; only that message's final
//! dot waits for it.

use crate::deliver::{Attempt, Deliver, Report, ReportSink};
use std::future::IntoFuture;
use std::sync::Arc;
use tracing::debug;
use vmail_core::{MailServer, Outcome, RetryPolicy, SmtpSettings, TokenSource};
use vmail_smtp::{
    BeforeEnd, Body, Direction, MessageReport, ServerFailure, Session, SessionFailure, Submitter,
    Transcript, TranscriptLine, classify,
};

pub struct SmtpDeliverer {
    submitter: Submitter,
    /// Copy the session's transcript into every job's report (`[VMAIL]
    /// debug=2`). Below that nobody reads them, and a batch of a hundred
    /// jobs would otherwise carry a hundred copies of the session's opening.
    transcripts: bool,
}

impl SmtpDeliverer {
    /// `retry` also says how long a server of several that failed is
    /// skipped (`retry-min` doubling to `retry-max`).
    pub fn new(
        settings: SmtpSettings,
        tokens: Option<Arc<dyn TokenSource>>,
        transcripts: bool,
        retry: RetryPolicy,
    ) -> SmtpDeliverer {
        let submitter = Submitter::new(settings).with_failover_backoff(retry.min, retry.max);
        let submitter = match tokens {
            Some(tokens) => submitter.with_tokens(tokens),
            None => submitter,
        };
        SmtpDeliverer {
            submitter,
            transcripts,
        }
    }

    /// Every job gets the failure that kept the session from opening, and
    /// the error itself (shared), whose advice goes into every job's log.
    /// `first` is the batch index of `batch[0]` (after a failover in the
    /// middle of a batch, the jobs left).
    async fn not_opened(
        &self,
        first: usize,
        batch: &[Attempt],
        failure: SessionFailure,
        sink: &ReportSink,
    ) {
        debug!(
            "SMTP session with {} did not open:\n{}",
            self.destination(),
            failure.transcript
        );
        let outcome = classify(&failure.error);
        let tried = tried_before(&failure.failed_over, None);
        let error = Arc::new(failure.error);
        let lines = failure.transcript.lines();
        for (index, attempt) in batch.iter().enumerate() {
            let mut report = Report::new(outcome.clone());
            report.recipients = attempt
                .envelope
                .recipients
                .iter()
                .map(|r| (r.clone(), outcome.clone()))
                .collect();
            report.notes = tried.iter().cloned().chain(warnings(lines)).collect();
            let mut report = report.with_error(error.clone());
            if self.transcripts {
                report.transcript = lines.to_vec();
            }
            sink.settle(first + index, report).await;
        }
    }

    /// One message over the open session; its final dot waits for
    /// `previous`, the record of the message before it.
    async fn send_one(
        &self,
        session: &mut Session,
        attempt: &Attempt,
        opening: usize,
        previous: &mut Option<BeforeEnd>,
    ) -> Report {
        let body = match open_body(attempt).await {
            Ok(body) => body,
            // Deleted or unreadable since the worker loaded it: this job
            // alone waits; the others go.
            Err(err) => {
                return Report::new(Outcome::Deferred {
                    reason: format!(
                        "cannot read the queued message {}: {err}",
                        attempt.message_path.display()
                    ),
                    reply: None,
                });
            }
        };
        let envelope = self.envelope(attempt);
        let message = session.send_gated(&envelope, body, previous).await;
        self.report(session.transcript(), &message, opening)
    }

    /// The job's envelope as sent: its DSN request completed with `[VMAIL]
    /// dsn-notify` and `dsn-return`, and the job id as the ENVID that the
    /// servers' reports quote back.
    fn envelope(&self, attempt: &Attempt) -> vmail_core::Envelope {
        let mut envelope = attempt.envelope.clone();
        envelope.dsn = envelope.dsn.or(&self.submitter.settings().dsn);
        if envelope.dsn.envid.is_none() {
            envelope.dsn.envid = Some(attempt.id.to_string());
        }
        envelope
    }

    /// A job's report: its outcome and typed error (with the error's
    /// advice among the notes), and at debug=2 the session's opening
    /// (connect, EHLO, TLS, AUTH) and the job's own lines, so a job log
    /// read alone tells the whole story.
    fn report(&self, transcript: &Transcript, message: &MessageReport, opening: usize) -> Report {
        let lines = transcript.lines();
        let opening = &lines[..opening.min(lines.len())];
        let own = lines
            .get(message.transcript_lines.clone())
            .unwrap_or_default();
        let report = Report {
            outcome: message.outcome.clone(),
            recipients: message
                .recipients
                .iter()
                .map(|r| (r.address.clone(), r.outcome.clone()))
                .collect(),
            transcript: if self.transcripts {
                opening.iter().chain(own).cloned().collect()
            } else {
                Vec::new()
            },
            // The session's warnings, then this message's own (made
            // 7-bit for a server without 8BITMIME).
            notes: warnings(opening).into_iter().chain(warnings(own)).collect(),
            error: None,
            server: None,
        };
        match &message.error {
            Some(error) => report.with_error(error.clone()),
            None => report,
        }
    }
}

/// The servers of `mail-server` tried before `took` (the one that took the
/// session, if one did), each with its error, in order: a line each in the
/// job's log.
fn tried_before(failed: &[ServerFailure], took: Option<&MailServer>) -> Vec<String> {
    let mut notes: Vec<String> = failed.iter().map(|f| format!("tried {f}")).collect();
    if let Some(server) = took.filter(|_| !failed.is_empty()) {
        notes.push(format!("then {server} took the session"));
    }
    notes
}

/// The session's warnings (sent without AUTH, certificate not verified):
/// a line in every job's log at any debug level.
fn warnings(lines: &[TranscriptLine]) -> Vec<String> {
    lines
        .iter()
        .filter(|line| line.direction == Direction::Warning)
        .map(|line| line.text.clone())
        .collect()
}

/// The message bytes after the queue entry's envelope lines, streamed: a
/// 1 MB job is never held whole. A part of the open file rather than a
/// reader, so that the session can look for 8-bit bytes before MAIL FROM
/// (`BODY=8BITMIME`) and read it again to send it.
async fn open_body(attempt: &Attempt) -> std::io::Result<Body> {
    Ok(Body::Part {
        file: Arc::clone(&attempt.message),
        offset: attempt.body_offset,
        len: attempt.size,
    })
}

impl Deliver for SmtpDeliverer {
    async fn deliver(&self, batch: Vec<Attempt>, sink: ReportSink) {
        let mut session = match self.submitter.connect().await {
            Ok(session) => session,
            Err(failure) => return self.not_opened(0, &batch, failure, &sink).await,
        };
        let mut opening = session.transcript().lines().len();
        let mut tried = tried_before(session.failed_over(), Some(session.server()));
        let mut previous: Option<BeforeEnd> = None;
        for (index, attempt) in batch.iter().enumerate() {
            let mut report = self
                .send_one(&mut session, attempt, opening, &mut previous)
                .await;
            // A 4xx to MAIL FROM: this job and those after it go to the
            // next server of mail-server, if one is left.
            while let Some(error) = report
                .error
                .clone()
                .filter(|error| self.submitter.can_fail_over(&session, error))
            {
                session = match self.submitter.fail_over(session, error).await {
                    Ok(next) => next,
                    Err(failure) => {
                        if let Some(unfinished) = previous.take() {
                            unfinished.await;
                        }
                        return self
                            .not_opened(index, &batch[index..], failure, &sink)
                            .await;
                    }
                };
                opening = session.transcript().lines().len();
                tried = tried_before(session.failed_over(), Some(session.server()));
                report = self
                    .send_one(&mut session, attempt, opening, &mut previous)
                    .await;
            }
            report.notes.splice(0..0, tried.iter().cloned());
            report.server = Some(session.server().to_string());
            // A message that stopped short of its dot left the gate open:
            // the record before it is still awaited before the next one.
            if let Some(unfinished) = previous.take() {
                unfinished.await;
            }
            previous = Some(sink.hand_over(index, report).await.into_future());
        }
        if let Some(last) = previous {
            last.await;
        }
        let transcript = session.quit().await;
        debug!(
            "SMTP session with {} ({} message(s)):\n{transcript}",
            self.destination(),
            batch.len()
        );
    }

    fn destination(&self) -> String {
        let servers: Vec<String> = self
            .submitter
            .settings()
            .servers()
            .iter()
            .map(ToString::to_string)
            .collect();
        servers.join(" or ")
    }
}
