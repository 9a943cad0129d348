//! The failure notice: the one mail a sender gets when vmail gives up on
//! recipients of a job, as an RFC 3464 delivery status notification, so
//! that mail programs show it as a bounce and software can read it:
//!
//! ```text
//! multipart/report; report-type=delivery-status
//! ├─ text/plain                the story in words, every refused recipient
//! │                            with the server's own reply, the delivered
//! │                            ones named, where the job is kept
//! ├─ message/delivery-status   Reporting-MTA, Arrival-Date; per recipient
//! │                            Final-Recipient, Action, Status, Remote-MTA,
//! │                            Diagnostic-Code, Last-Attempt-Date
//! └─ text/rfc822-headers       the original message's header
//! ```
//!
//! Recipients that were delivered are named in the text part only. RFC 3464
//! has `Action: delivered` and `relayed`, but a positive report is for a
//! sender who asked for one (RFC 3461 `NOTIFY=SUCCESS`, which vmail's
//! submitters cannot ask for), and neither fits a smarthost's 250: vmail
//! knows the message was accepted, not that it reached a mailbox. Recipients
//! still being tried are reported as `Action: delayed`, which is what
//! RFC 3464 has for them.
//!
//! [`build`] is pure: the worker gathers a [`FailureReport`] and queues the
//! bytes with the null sender to [`FailureReport::sender`].

use std::hash::{Hash, Hasher};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, Message, MultiPart, SinglePart};
use vmail_core::{EnhancedCode, Envelope, JobId, Outcome, Reply};

/// What became of one recipient of the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientFate {
    /// vmail gave up: the server's reply (a 5xx to RCPT or DATA, or the
    /// last 4xx when the lifetime ran out) and vmail's reason in words.
    Failed {
        reason: String,
        reply: Option<Reply>,
    },
    /// Still being tried (in a new job): reported as `Action: delayed`.
    Deferred {
        reason: String,
        reply: Option<Reply>,
    },
    /// The server took the message for this recipient: named in the text.
    Delivered { reply: Reply },
}

impl From<Outcome> for RecipientFate {
    fn from(outcome: Outcome) -> RecipientFate {
        match outcome {
            Outcome::Failed { reason, reply } => RecipientFate::Failed { reason, reply },
            Outcome::Deferred { reason, reply } => RecipientFate::Deferred { reason, reply },
            Outcome::Delivered { reply } => RecipientFate::Delivered { reply },
        }
    }
}

/// Where the job is kept after the attempt: it goes to `sent/` when any
/// recipient got the message, to `failed/` when none did. The worker knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptIn {
    Sent,
    Failed,
}

impl KeptIn {
    fn folder(self) -> &'static str {
        match self {
            KeptIn::Sent => "sent/",
            KeptIn::Failed => "failed/",
        }
    }
}

/// Who reports: `host` is this relay's name in `Reporting-MTA` (the
/// HELO name); `domain` is where MAILER-DAEMON and the notice's Message-ID
/// live: the domain of `[VMAIL] from`, else the HELO name. Never
/// `localhost`, which a receiving server may refuse or rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeOrigin {
    pub host: String,
    pub domain: String,
}

impl NoticeOrigin {
    /// From the configuration: `[VMAIL] from` and the HELO name.
    pub fn new(configured_from: &str, helo_name: &str) -> NoticeOrigin {
        let host = helo_name.trim().to_string();
        let domain = crate::address::domain(configured_from)
            .map(str::to_string)
            .unwrap_or_else(|| host.clone());
        NoticeOrigin { host, domain }
    }
}

/// Everything the notice says, gathered by the worker that settled the job.
#[derive(Debug, Clone)]
pub struct FailureReport<'a> {
    pub job: &'a JobId,
    /// The job's envelope sender: the notice goes to it.
    pub sender: &'a str,
    /// Every recipient of the attempt with its fate; at least one failed
    /// or deferred, or there is nothing to report.
    pub recipients: &'a [(String, RecipientFate)],
    /// The header of the queued message (see
    /// [`crate::header::read_header_block`]); `None` leaves out the third part.
    pub original_headers: Option<&'a [u8]>,
    /// The original Subject, for the notice's own (`Undelivered mail: ...`);
    /// `None` reads it from `original_headers`.
    pub subject: Option<&'a str>,
    pub attempts: u32,
    /// The mail server of the attempt, `host:port` as the deliverer names it.
    pub remote_server: &'a str,
    pub origin: &'a NoticeOrigin,
    /// When the job was queued (`Arrival-Date`), when known.
    pub arrival: Option<SystemTime>,
    /// The attempt that ended it (`Last-Attempt-Date`, the notice's Date).
    pub last_attempt: SystemTime,
    pub kept_in: KeptIn,
}

impl FailureReport<'_> {
    /// The notice's envelope: the null sender (a notice never gets a notice
    /// of its own, so notices never loop) to the job's sender.
    pub fn envelope(&self) -> Envelope {
        Envelope::new("", vec![self.sender.to_string()])
    }
}

/// Why no notice was built; the caller logs it and settles the job anyway.
#[derive(Debug, thiserror::Error)]
pub enum DsnError {
    #[error("the job has no sender (it may be a notice itself): no notice is sent")]
    NullSender,
    #[error("the sender `{address}` is not an address a notice can go to")]
    BadSender { address: String },
    #[error("no recipient failed or was deferred: there is nothing to report")]
    NothingToReport,
    #[error("`{domain}` cannot be the domain of MAILER-DAEMON; set [VMAIL] from or helo-name")]
    BadOrigin { domain: String },
    #[error("the notice's content type `{0}` does not parse")]
    ContentType(String),
    #[error("the notice could not be built: {0}")]
    Build(#[from] lettre::error::Error),
}

/// Whether a job from `sender` gets a notice: not from the null sender.
pub fn wants_notice(sender: &str) -> bool {
    !sender.trim().is_empty()
}

/// The notice as an RFC 5322 message with CRLF line ends.
pub fn build(report: &FailureReport<'_>) -> Result<Vec<u8>, DsnError> {
    if !wants_notice(report.sender) {
        return Err(DsnError::NullSender);
    }
    if !report
        .recipients
        .iter()
        .any(|(_, fate)| !matches!(fate, RecipientFate::Delivered { .. }))
    {
        return Err(DsnError::NothingToReport);
    }
    let to: Mailbox = report.sender.parse().map_err(|_| DsnError::BadSender {
        address: report.sender.to_string(),
    })?;
    let domain = &report.origin.domain;
    let from: Mailbox = format!("Mail Delivery System <MAILER-DAEMON@{domain}>")
        .parse()
        .map_err(|_| DsnError::BadOrigin {
            domain: domain.clone(),
        })?;
    let subject = report
        .subject
        .map(str::to_string)
        .or_else(|| report.original_headers.and_then(crate::header::subject));
    let subject = match subject {
        Some(subject) => format!("Undelivered mail: {subject}"),
        None => format!("Undelivered mail: job {}", report.job),
    };
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date(report.last_attempt)
        .message_id(Some(notice_id(report)))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".to_string(),
        ))
        .multipart(report_parts(report)?)?;
    Ok(message.formatted())
}

/// The same message and recipients give the same Message-ID, so a notice
/// queued twice across a crash, or for a drop that a crash queued twice
/// (two jobs, one message), is recognisably the same notice. The original
/// Message-ID names the message; the job id stands in when it has none.
fn notice_id(report: &FailureReport<'_>) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    let original = report
        .original_headers
        .and_then(|headers| crate::header::field(headers, "message-id"));
    match &original {
        Some(id) => id.hash(&mut hasher),
        None => report.job.as_str().hash(&mut hasher),
    }
    for (address, fate) in report.recipients {
        if !matches!(fate, RecipientFate::Delivered { .. }) {
            address.hash(&mut hasher);
        }
    }
    match original {
        Some(_) => format!("<notice.{:016x}@{}>", hasher.finish(), report.origin.domain),
        None => format!(
            "<notice.{}.{:016x}@{}>",
            report.job,
            hasher.finish(),
            report.origin.domain
        ),
    }
}

fn report_parts(report: &FailureReport<'_>) -> Result<MultiPart, DsnError> {
    let boundary = format!(
        "vmail-report-{}-{:016x}",
        report.job,
        vmail_core::unique::random_u64()
    );
    let mut parts = MultiPart::mixed()
        .build()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(plain_body(human_text(report))),
        )
        .singlepart(
            SinglePart::builder()
                .header(content_type("message/delivery-status")?)
                .body(plain_body(delivery_status(report))),
        );
    if let Some(headers) = report.original_headers {
        let text = String::from_utf8_lossy(headers).into_owned();
        parts = parts.singlepart(
            SinglePart::builder()
                .header(content_type("text/rfc822-headers")?)
                .body(plain_body(text)),
        );
    }
    parts.headers_mut().set(content_type(&format!(
        "multipart/report; report-type=delivery-status; boundary=\"{boundary}\""
    ))?);
    Ok(parts)
}

fn content_type(text: &str) -> Result<ContentType, DsnError> {
    ContentType::parse(text).map_err(|_| DsnError::ContentType(text.to_string()))
}

/// A part sent as it is (7bit, else 8bit) when its lines allow (at most
/// 998 bytes, no NUL): the report and the headers are for programs to read,
/// and RFC 3464 parsers expect them unencoded. lettre's own choice would
/// turn any line over 76 characters into quoted-printable.
fn plain_body(text: String) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let sendable = crlf
        .split("\r\n")
        .all(|line| line.len() <= 998 && !line.contains(['\0', '\r']));
    match (sendable, crlf.is_ascii()) {
        (true, true) => {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
        }
        (true, false) => {
            Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
        }
        (false, _) => Body::new(text),
    }
}

fn rfc5322_date(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc2822()
}

/// The host of `host:port` (`[v6]:port` too), an address in brackets as
/// in an SMTP address literal; `None` for what is not a server name (the
/// capture folder of the shipped configuration).
fn remote_host(server: &str) -> Option<String> {
    let host = match server.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => server,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let plausible = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    match host.parse::<std::net::IpAddr>() {
        Ok(_) => Some(format!("[{host}]")),
        Err(_) => plausible.then(|| host.to_string()),
    }
}

/// `Status:` of RFC 3464: the server's enhanced code when it gave one of
/// the right class, else derived from the reply code (`5.0.0`, `4.0.0`).
fn status(fate: &RecipientFate) -> EnhancedCode {
    let (reply, class) = match fate {
        RecipientFate::Failed { reply, .. } => (reply.as_ref(), 5),
        RecipientFate::Deferred { reply, .. } => (reply.as_ref(), 4),
        RecipientFate::Delivered { reply } => (Some(reply), 2),
    };
    match reply {
        Some(Reply {
            enhanced: Some(code),
            ..
        }) if code.class != 2 || class == 2 => *code,
        Some(reply) if reply.is_permanent() => EnhancedCode::new(5, 0, 0),
        Some(reply) if reply.is_transient() => EnhancedCode::new(4, 0, 0),
        _ => EnhancedCode::new(class, 0, 0),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `message/delivery-status` body: the per-message block, then one
/// block per failed or delayed recipient.
fn delivery_status(report: &FailureReport<'_>) -> String {
    let mut out = format!("Reporting-MTA: dns; {}\n", report.origin.host);
    if let Some(arrival) = report.arrival {
        out.push_str(&format!("Arrival-Date: {}\n", rfc5322_date(arrival)));
    }
    for (address, fate) in report.recipients {
        let (action, reply, reason) = match fate {
            RecipientFate::Failed { reason, reply } => ("failed", reply.as_ref(), reason),
            RecipientFate::Deferred { reason, reply } => ("delayed", reply.as_ref(), reason),
            RecipientFate::Delivered { .. } => continue,
        };
        out.push_str(&format!(
            "\nFinal-Recipient: rfc822; {address}\nAction: {action}\nStatus: {}\n",
            status(fate)
        ));
        if let Some(host) = remote_host(report.remote_server) {
            out.push_str(&format!("Remote-MTA: dns; {host}\n"));
        }
        match reply {
            Some(reply) => out.push_str(&format!("Diagnostic-Code: smtp; {}\n", reply.one_line())),
            None => out.push_str(&format!("Diagnostic-Code: X-vmail; {}\n", one_line(reason))),
        }
        out.push_str(&format!(
            "Last-Attempt-Date: {}\n",
            rfc5322_date(report.last_attempt)
        ));
    }
    out
}

/// The text part: what a person reads first.
fn human_text(report: &FailureReport<'_>) -> String {
    let pick = |want: fn(&RecipientFate) -> bool| -> Vec<&(String, RecipientFate)> {
        report.recipients.iter().filter(|(_, f)| want(f)).collect()
    };
    let failed = pick(|f| matches!(f, RecipientFate::Failed { .. }));
    let deferred = pick(|f| matches!(f, RecipientFate::Deferred { .. }));
    let delivered = pick(|f| matches!(f, RecipientFate::Delivered { .. }));
    let mut text = format!("This is the mail system at {}.\n\n", report.origin.host);
    // A job kept in sent/ went to some recipient, even when the caller
    // names only the refused ones.
    let partly = !delivered.is_empty() || !deferred.is_empty() || report.kept_in == KeptIn::Sent;
    if !partly {
        text.push_str(&format!(
            "vmail could not deliver job {} and has given up.\n",
            report.job
        ));
    } else if !failed.is_empty() {
        text.push_str(&format!(
            "vmail could not deliver job {} to some of its recipients and has given up on them.\n",
            report.job
        ));
    } else {
        text.push_str(&format!(
            "vmail has not yet delivered job {} to some of its recipients.\n",
            report.job
        ));
    }
    if partly && delivered.is_empty() && deferred.is_empty() {
        text.push_str(
            "Its other recipients got the message or are still being tried; the job's log\n\
             has the server's reply for each.\n",
        );
    }
    if !failed.is_empty() {
        text.push_str("\nNot delivered:\n\n");
        recipient_lines(&mut text, &failed);
    }
    if !deferred.is_empty() {
        text.push_str("\nStill being tried (you will hear again if vmail gives up on them):\n\n");
        recipient_lines(&mut text, &deferred);
    }
    if !delivered.is_empty() {
        text.push_str(
            "\nDelivered to the others (the mail server accepted the message for them):\n\n",
        );
        recipient_lines(&mut text, &delivered);
    }
    text.push_str(&format!(
        "\nMail server: {}\nAttempts: {}\n\n\
         The job is kept in the spool's {} folder; an administrator can\n\
         see its log with `vfxadmin queue show {}`.\n",
        report.remote_server,
        report.attempts,
        report.kept_in.folder(),
        report.job
    ));
    text
}

fn recipient_lines(text: &mut String, recipients: &[&(String, RecipientFate)]) {
    for (address, fate) in recipients {
        text.push_str(&format!("  <{address}>\n"));
        let (reason, reply) = match fate {
            RecipientFate::Failed { reason, reply } | RecipientFate::Deferred { reason, reply } => {
                (Some(reason), reply.as_ref())
            }
            RecipientFate::Delivered { reply } => (None, Some(reply)),
        };
        if let Some(reply) = reply {
            text.push_str(&format!("    the server's reply: {}\n", reply.one_line()));
        }
        if let Some(reason) = reason.filter(|r| !r.trim().is_empty()) {
            text.push_str(&format!("    {}\n", one_line(reason)));
        }
    }
}

#[cfg(test)]
mod tests;
