//! Delivery through a real mail server: a batch of attempts becomes one
//! SMTP session of the submitter (one login, `RSET` between messages), and
//! its session report becomes one [`Report`] per job.

use crate::deliver::{Attempt, Deliver, Report};
use std::io::SeekFrom;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tracing::debug;
use vmail_core::{Outcome, SmtpSettings};
use vmail_smtp::{Body, MessageReport, Outgoing, SessionReport, Submitter, TranscriptLine};

pub struct SmtpDeliverer {
    submitter: Submitter,
    /// Copy the session's transcript into every job's report (`[VMAIL]
    /// debug=2`). Below that nobody reads them, and a batch of a hundred
    /// jobs would otherwise carry a hundred copies of the session's opening.
    transcripts: bool,
}

impl SmtpDeliverer {
    pub fn new(settings: SmtpSettings, transcripts: bool) -> SmtpDeliverer {
        SmtpDeliverer {
            submitter: Submitter::new(settings),
            transcripts,
        }
    }
}

/// The message bytes after the queue entry's envelope lines, streamed: a
/// 1 MB job is never held whole.
async fn open_body(attempt: &Attempt) -> std::io::Result<Body> {
    let mut file = tokio::fs::File::open(&attempt.message_path).await?;
    file.seek(SeekFrom::Start(attempt.body_offset)).await?;
    Ok(Body::Reader {
        reader: Box::new(file.take(attempt.size)),
        size: Some(attempt.size),
    })
}

impl Deliver for SmtpDeliverer {
    async fn deliver(&self, batch: Vec<Attempt>) -> Vec<Report> {
        let mut reports: Vec<Option<Report>> = Vec::with_capacity(batch.len());
        let mut outgoing = Vec::with_capacity(batch.len());
        let mut sent_slots = Vec::with_capacity(batch.len());
        for attempt in &batch {
            match open_body(attempt).await {
                Ok(body) => {
                    sent_slots.push(reports.len());
                    reports.push(None);
                    outgoing.push(Outgoing::new(attempt.envelope.clone(), body));
                }
                // Deleted or unreadable since the worker loaded it: this job
                // alone waits; the others go.
                Err(err) => reports.push(Some(Report::new(Outcome::Deferred {
                    reason: format!(
                        "cannot read the queued message {}: {err}",
                        attempt.message_path.display()
                    ),
                    reply: None,
                }))),
            }
        }
        if !outgoing.is_empty() {
            let session = self.submitter.send(outgoing).await;
            debug!(
                "SMTP session with {} ({} message(s)):\n{}",
                self.destination(),
                session.messages.len(),
                session.transcript
            );
            for (slot, report) in sent_slots
                .into_iter()
                .zip(job_reports(&session, self.transcripts))
            {
                reports[slot] = Some(report);
            }
        }
        reports
            .into_iter()
            .map(|report| {
                report.unwrap_or_else(|| {
                    Report::new(Outcome::Deferred {
                        reason: "the SMTP session returned no report for this job".to_string(),
                        reply: None,
                    })
                })
            })
            .collect()
    }

    fn destination(&self) -> String {
        let settings = self.submitter.settings();
        format!("{}:{}", settings.host, settings.port)
    }
}

/// One report per message. Each job's transcript is the session's opening
/// (connect, EHLO, TLS, AUTH), the job's own lines, and the session's end,
/// so a job log read alone tells the whole story.
fn job_reports(session: &SessionReport, transcripts: bool) -> Vec<Report> {
    let lines = session.transcript.lines();
    let opening_end = session
        .messages
        .iter()
        .map(|m| m.transcript_lines.start)
        .filter(|&start| start > 0)
        .min()
        .unwrap_or(lines.len())
        .min(lines.len());
    let closing_start = session
        .messages
        .iter()
        .map(|m| m.transcript_lines.end)
        .max()
        .unwrap_or(lines.len())
        .clamp(opening_end, lines.len());
    let notes: Vec<String> = session
        .transcript
        .notes()
        .filter(|note| note.starts_with("warning:"))
        .map(|note| note.trim_start_matches("warning:").trim().to_string())
        .collect();
    session
        .messages
        .iter()
        .map(|message| {
            let transcript = if transcripts {
                let own = own_lines(lines, message, opening_end);
                lines[..opening_end]
                    .iter()
                    .chain(own)
                    .chain(&lines[closing_start..])
                    .map(TranscriptLine::to_string)
                    .collect()
            } else {
                Vec::new()
            };
            Report {
                outcome: message.outcome.clone(),
                recipients: message
                    .recipients
                    .iter()
                    .map(|r| (r.address.clone(), r.outcome.clone()))
                    .collect(),
                transcript,
                notes: notes.clone(),
            }
        })
        .collect()
}

/// A message's lines past the opening (which every job gets anyway); none
/// when the range is empty or out of bounds.
fn own_lines<'a>(
    lines: &'a [TranscriptLine],
    message: &MessageReport,
    opening_end: usize,
) -> &'a [TranscriptLine] {
    let range = &message.transcript_lines;
    let start = range.start.max(opening_end).min(lines.len());
    let end = range.end.min(lines.len());
    if start < end { &lines[start..end] } else { &[] }
}
