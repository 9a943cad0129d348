//! One message over an open session: envelope (pipelined when offered),
//! DATA streamed from its source, and the per-recipient verdicts.

use crate::classify::classify;
use crate::conn::{Stream, WRITE_CHUNK};
use crate::data::DotStuffer;
use crate::error::{RefusedRecipient, SmtpError, Step};
use crate::session::Session;
use std::future::Future;
use std::ops::Range;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use vmail_core::{Envelope, Outcome, Reply};

/// Where a message's bytes come from. They are streamed into DATA, never
/// held whole (except for [`Body::Bytes`], which already is).
pub enum Body {
    Bytes(Vec<u8>),
    File(PathBuf),
    /// Any reader; `size` (when known) is announced with `SIZE=` and checked
    /// against the server's limit before MAIL FROM.
    Reader {
        reader: Box<dyn AsyncRead + Send + Unpin>,
        size: Option<u64>,
    },
    /// `len` bytes of an open file from `offset` (a queue entry's message
    /// after its envelope): read in place once to look for 8-bit bytes
    /// (`BODY=8BITMIME`), then streamed, on its own file description.
    Part {
        file: Arc<std::fs::File>,
        offset: u64,
        len: u64,
    },
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Bytes(bytes) => write!(f, "Body::Bytes({} bytes)", bytes.len()),
            Body::File(path) => write!(f, "Body::File({})", path.display()),
            Body::Reader { size, .. } => write!(f, "Body::Reader(size {size:?})"),
            Body::Part { offset, len, .. } => write!(f, "Body::Part({len} bytes at {offset})"),
        }
    }
}

impl Body {
    /// The same bytes again, for a second try on another server: `None`
    /// for a reader, which cannot be read twice.
    pub fn copy(&self) -> Option<Body> {
        match self {
            Body::Bytes(bytes) => Some(Body::Bytes(bytes.clone())),
            Body::File(path) => Some(Body::File(path.clone())),
            Body::Reader { .. } => None,
            Body::Part { file, offset, len } => Some(Body::Part {
                file: Arc::clone(file),
                offset: *offset,
                len: *len,
            }),
        }
    }
}

/// A message to send: its envelope and its bytes (RFC 5322, headers first).
#[derive(Debug)]
pub struct Outgoing {
    pub envelope: Envelope,
    pub body: Body,
}

impl Outgoing {
    pub fn new(envelope: Envelope, body: Body) -> Self {
        Outgoing { envelope, body }
    }
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    pub address: String,
    pub outcome: Outcome,
}

/// What became of one message: the message's outcome (the reply to its
/// data, or the error that stopped it) and each recipient's.
#[derive(Debug)]
pub struct MessageReport {
    pub outcome: Outcome,
    pub recipients: Vec<RecipientReport>,
    /// The error behind a non-delivered outcome, typed: the outcome's
    /// reason is its text, and its row in the table ([`SmtpError::facts`])
    /// gives the advice. Shared, so that a daemon's report of the job can
    /// keep it too.
    pub error: Option<Arc<SmtpError>>,
    /// Bytes read from the message source (0 when DATA was never reached).
    pub bytes: u64,
    /// The lines of the session's transcript that belong to this message
    /// (for the job's own log); the whole opening when the session failed.
    pub transcript_lines: Range<usize>,
}

impl MessageReport {
    /// Every recipient shares the message's outcome.
    fn all(envelope: &Envelope, error: SmtpError) -> MessageReport {
        let outcome = classify(&error);
        MessageReport {
            recipients: each(envelope, &outcome),
            outcome,
            error: Some(Arc::new(error)),
            bytes: 0,
            transcript_lines: 0..0,
        }
    }
}

fn each(envelope: &Envelope, outcome: &Outcome) -> Vec<RecipientReport> {
    envelope
        .recipients
        .iter()
        .map(|address| RecipientReport {
            address: address.clone(),
            outcome: outcome.clone(),
        })
        .collect()
}

/// The envelope's result: the accepted recipients and the refused ones.
struct Accepted {
    recipients: Vec<String>,
    refused: Vec<RefusedRecipient>,
}

/// Something the caller must see finished before a message's final dot:
/// the point after which the server may take the message for good.
pub type BeforeEnd = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Session {
    /// Sends one message. Before every message after the first, `RSET`.
    /// A refused recipient fails alone; with none accepted there is no DATA.
    pub async fn send(&mut self, envelope: &Envelope, body: Body) -> MessageReport {
        self.send_gated(envelope, body, &mut None).await
    }

    /// [`Session::send`], but the final dot waits for `before_end` (taken
    /// out of the option when awaited). A daemon records the previous
    /// message's fate there: the record overlaps this message's envelope
    /// and data, and still no two messages the server accepted are ever
    /// unrecorded at once. When the message stops short of its dot, the
    /// gate is left in the option for the caller to await.
    pub async fn send_gated(
        &mut self,
        envelope: &Envelope,
        body: Body,
        before_end: &mut Option<BeforeEnd>,
    ) -> MessageReport {
        if let Some(reason) = &self.broken {
            let reason = format!("not tried: an earlier error ended the connection ({reason})");
            let outcome = Outcome::Deferred {
                reason,
                reply: None,
            };
            return MessageReport {
                recipients: each(envelope, &outcome),
                outcome,
                error: None,
                bytes: 0,
                transcript_lines: 0..0,
            };
        }
        let start = self.conn.transcript.lines().len();
        let mut accepted = None;
        let mut bytes = 0;
        let result = self
            .transaction(envelope, body, &mut accepted, &mut bytes, before_end)
            .await;
        self.transactions += 1;
        let mut report = match result {
            Ok(reply) => delivered(envelope, accepted, reply, bytes),
            Err(error) => self.failed(envelope, accepted, error, bytes),
        };
        report.transcript_lines = start..self.conn.transcript.lines().len();
        report
    }

    fn failed(
        &mut self,
        envelope: &Envelope,
        accepted: Option<Accepted>,
        error: SmtpError,
        bytes: u64,
    ) -> MessageReport {
        if error.ends_session() {
            self.broken = Some(error.to_string());
            self.conn.stream = Stream::Closed;
        }
        let Some(accepted) = accepted else {
            return MessageReport::all(envelope, error);
        };
        let outcome = classify(&error);
        let mut recipients = refused_reports(&accepted.refused);
        recipients.extend(accepted.recipients.iter().map(|address| RecipientReport {
            address: address.clone(),
            outcome: outcome.clone(),
        }));
        sort_like(envelope, &mut recipients);
        MessageReport {
            outcome,
            recipients,
            error: Some(Arc::new(error)),
            bytes,
            transcript_lines: 0..0,
        }
    }

    async fn transaction(
        &mut self,
        envelope: &Envelope,
        body: Body,
        accepted: &mut Option<Accepted>,
        bytes: &mut u64,
        before_end: &mut Option<BeforeEnd>,
    ) -> Result<Reply, SmtpError> {
        let prepared = crate::eightbit::prepare(body, &self.ext).await?;
        if let Some(down) = &prepared.downgraded {
            self.conn.transcript.warn(format!(
                "the server does not offer 8BITMIME: the message was made 7-bit before sending \
                 ({})",
                down.summary()
            ));
        }
        let (mut reader, size) = (prepared.reader, prepared.size);
        if let (Some(limit), Some(size)) = (self.ext.size_limit(), size)
            && size > limit
        {
            return Err(SmtpError::SizeExceeded { size, limit });
        }
        // RSET before every message after the first; pipelined with the
        // envelope when the server allows.
        let rset = self.transactions > 0;
        if rset && !self.ext.pipelining {
            self.rset().await?;
        }
        let mail = crate::params::mail_from(envelope, &self.ext, size, prepared.body_type)?;
        let result = self
            .envelope(envelope, mail, rset && self.ext.pipelining)
            .await?;
        let none_accepted = result.recipients.is_empty();
        let refused = result.refused.clone();
        *accepted = Some(result);
        if none_accepted {
            return Err(SmtpError::RecipientsRefused { refused });
        }
        if !self.ext.pipelining {
            self.data_command().await?;
        }
        self.data(&mut reader, size, bytes, before_end).await
    }

    async fn rset(&mut self) -> Result<(), SmtpError> {
        let reply = self.conn.command("RSET", None, Step::Rset).await?;
        rset_accepted(reply)
    }

    /// MAIL FROM and RCPT TO; with PIPELINING, DATA too (and a leading RSET),
    /// all in one write.
    async fn envelope(
        &mut self,
        envelope: &Envelope,
        mail: String,
        rset_first: bool,
    ) -> Result<Accepted, SmtpError> {
        if !self.ext.pipelining {
            self.conn.queue(&mail, None);
            let reply = self.conn.command_reply(Step::MailFrom).await?;
            return match reply.code {
                250 => self.recipients_one_by_one(envelope).await,
                _ => Err(SmtpError::MailFrom { reply }),
            };
        }
        if rset_first {
            self.conn.queue("RSET", None);
        }
        self.conn.queue(&mail, None);
        for recipient in &envelope.recipients {
            let rcpt = crate::params::rcpt_to(recipient, envelope, &self.ext);
            self.conn.queue(&rcpt, None);
        }
        self.conn.queue("DATA", None);
        self.conn.flush(Step::MailFrom).await?;
        if rset_first {
            rset_accepted(self.conn.read_reply(Step::Rset).await?.reply)?;
        }
        self.pipelined_replies(envelope).await
    }

    /// The replies to a pipelined MAIL, RCPTs and DATA.
    async fn pipelined_replies(&mut self, envelope: &Envelope) -> Result<Accepted, SmtpError> {
        let mail = self.conn.read_reply(Step::MailFrom).await?.reply;
        let mut accepted = Accepted {
            recipients: Vec::new(),
            refused: Vec::new(),
        };
        for recipient in &envelope.recipients {
            let reply = self.conn.read_reply(Step::RcptTo).await?.reply;
            accepted.note(recipient, reply);
        }
        let data = self.conn.read_reply(Step::Data).await?.reply;
        if mail.code != 250 {
            return Err(SmtpError::MailFrom { reply: mail });
        }
        if accepted.recipients.is_empty() {
            if data.code == 354 {
                // RFC 2920: the server should not have; end the empty data.
                self.conn.queue_raw().extend_from_slice(b".\r\n");
                self.conn.command_reply(Step::DataEnd).await?;
            }
            return Ok(accepted);
        }
        if data.code != 354 {
            return Err(SmtpError::Data { reply: data });
        }
        Ok(accepted)
    }

    async fn recipients_one_by_one(&mut self, envelope: &Envelope) -> Result<Accepted, SmtpError> {
        let mut accepted = Accepted {
            recipients: Vec::new(),
            refused: Vec::new(),
        };
        for recipient in &envelope.recipients {
            let rcpt = crate::params::rcpt_to(recipient, envelope, &self.ext);
            let reply = self.conn.command(&rcpt, None, Step::RcptTo).await?;
            accepted.note(recipient, reply);
        }
        Ok(accepted)
    }

    async fn data_command(&mut self) -> Result<(), SmtpError> {
        let reply = self.conn.command("DATA", None, Step::Data).await?;
        if reply.code == 354 {
            Ok(())
        } else {
            Err(SmtpError::Data { reply })
        }
    }

    /// Streams the body, dot-stuffed, in large writes; then the final dot.
    /// `size`, when known, only sizes the read buffer: a notice of 2 KB
    /// does not get a zeroed 64 KiB one.
    async fn data(
        &mut self,
        reader: &mut (dyn AsyncRead + Send + Unpin),
        size: Option<u64>,
        bytes: &mut u64,
        before_end: &mut Option<BeforeEnd>,
    ) -> Result<Reply, SmtpError> {
        let mut stuffer = DotStuffer::default();
        let mut chunk = vec![0u8; read_buffer_for(size)];
        let mut wire = 0u64;
        loop {
            let n = reader
                .read(&mut chunk)
                .await
                .map_err(|source| SmtpError::BodyRead { source })?;
            if n == 0 {
                break;
            }
            *bytes += n as u64;
            stuffer.encode(&chunk[..n], self.conn.queue_raw());
            if self.conn.queued() >= WRITE_CHUNK {
                wire += self.conn.queued() as u64;
                self.conn.flush(Step::DataEnd).await?;
            }
        }
        stuffer.finish(self.conn.queue_raw());
        wire += self.conn.queued() as u64 - 3;
        self.conn.transcript.client(format!(
            "<message: {bytes} bytes, {wire} bytes on the wire after CRLF and dot-stuffing>"
        ));
        if let Some(gate) = before_end.take() {
            gate.await;
        }
        self.conn.transcript.client(".");
        self.conn.flush(Step::DataEnd).await?;
        let reply = self.conn.read_reply(Step::DataEnd).await?.reply;
        if reply.code == 250 {
            Ok(reply)
        } else {
            Err(SmtpError::DataEnd { reply })
        }
    }
}

/// At least a page, at most a write's worth, else the message's size.
fn read_buffer_for(size: Option<u64>) -> usize {
    const SMALLEST: usize = 4096;
    size.map_or(WRITE_CHUNK, |size| {
        usize::try_from(size).map_or(WRITE_CHUNK, |size| size.clamp(SMALLEST, WRITE_CHUNK))
    })
}

impl Accepted {
    fn note(&mut self, recipient: &str, reply: Reply) {
        if reply.code == 250 || reply.code == 251 {
            self.recipients.push(recipient.to_string());
        } else {
            self.refused.push(RefusedRecipient {
                address: recipient.to_string(),
                reply,
            });
        }
    }
}

fn rset_accepted(reply: Reply) -> Result<(), SmtpError> {
    if reply.code == 250 {
        Ok(())
    } else {
        Err(SmtpError::Rset { reply })
    }
}

fn refused_reports(refused: &[RefusedRecipient]) -> Vec<RecipientReport> {
    refused
        .iter()
        .map(|r| RecipientReport {
            address: r.address.clone(),
            outcome: classify(&SmtpError::Recipient {
                address: r.address.clone(),
                reply: r.reply.clone(),
            }),
        })
        .collect()
}

fn delivered(
    envelope: &Envelope,
    accepted: Option<Accepted>,
    reply: Reply,
    bytes: u64,
) -> MessageReport {
    let outcome = Outcome::Delivered { reply };
    let Some(accepted) = accepted else {
        return MessageReport {
            recipients: each(envelope, &outcome),
            outcome,
            error: None,
            bytes,
            transcript_lines: 0..0,
        };
    };
    let mut recipients = refused_reports(&accepted.refused);
    recipients.extend(accepted.recipients.iter().map(|address| RecipientReport {
        address: address.clone(),
        outcome: outcome.clone(),
    }));
    sort_like(envelope, &mut recipients);
    MessageReport {
        outcome,
        recipients,
        error: None,
        bytes,
        transcript_lines: 0..0,
    }
}

/// Keeps the envelope's order of recipients.
fn sort_like(envelope: &Envelope, recipients: &mut [RecipientReport]) {
    recipients.sort_by_key(|r| envelope.recipients.iter().position(|a| *a == r.address));
}
