//! Everything that can go wrong in a session, as data: each variant keeps the
//! server's reply where there is one, and no variant ever holds a command as
//! it went on the wire (an AUTH line would carry a secret).

use crate::auth::oauth::OAuthStatus;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
use vmail_core::{MailServer, Reply, TokenError};

/// The step of the session an error happened in, for timeouts and dropped
/// connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    Greeting,
    Ehlo,
    StartTls,
    TlsHandshake,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    /// Sending the message body and waiting for the reply to the final dot.
    DataEnd,
    Rset,
    Quit,
    /// The POP3 login of POP-before-SMTP.
    Pop,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Connect => "connecting",
            Step::Greeting => "waiting for the greeting",
            Step::Ehlo => "EHLO/HELO",
            Step::StartTls => "STARTTLS",
            Step::TlsHandshake => "the TLS handshake",
            Step::Auth => "AUTH",
            Step::MailFrom => "MAIL FROM",
            Step::RcptTo => "RCPT TO",
            Step::Data => "DATA",
            Step::DataEnd => "sending the message data",
            Step::Rset => "RSET",
            Step::Quit => "QUIT",
            Step::Pop => "the POP-before-SMTP login",
        })
    }
}

/// What was wrong with what the server sent: the detail of
/// [`SmtpError::Protocol`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("reply code {code:03} is not an SMTP reply code (1xx to 5xx)")]
    BadCode { code: u16 },
    #[error("the reply is longer than {limit} bytes and has not ended")]
    TooLong { limit: usize },
    #[error("a multi-line reply changes its code from {first} to {other}")]
    MixedCodes { first: String, other: String },
    /// smtp-proto's own error, as it describes itself (its type has no
    /// `Display` and is not ours to keep).
    #[error("{parser}")]
    Unparsable { parser: String },
    #[error("the server sent data after its 220 to STARTTLS")]
    DataAfterStartTls,
    #[error("STARTTLS on a connection that is already encrypted")]
    AlreadyEncrypted,
    #[error("AUTH {mechanism}: a second challenge after the empty response")]
    SecondChallenge { mechanism: String },
}

/// Why TLS could not be set up before any connection: the detail of
/// [`SmtpError::TlsConfig`]. Cloned into every session's failure, as the
/// trust anchors are loaded once per submitter.
#[derive(Debug, Clone, Error)]
pub enum TlsSetupError {
    #[error("cannot read ca-file {}: {error}", path.display())]
    CaFileUnreadable {
        path: PathBuf,
        error: Arc<io::Error>,
    },
    /// `pem` is rustls-pki-types' description of the PEM error (its type
    /// has no `Display`).
    #[error("ca-file {}: {pem}", path.display())]
    CaFileUnparsable { path: PathBuf, pem: String },
    #[error("ca-file {} holds no usable PEM certificate", path.display())]
    CaFileEmpty { path: PathBuf },
    #[error("cannot read tls-cert-file {}: {error}", path.display())]
    ClientCertUnreadable {
        path: PathBuf,
        error: Arc<io::Error>,
    },
    #[error("tls-cert-file {}: {pem}", path.display())]
    ClientCertUnparsable { path: PathBuf, pem: String },
    #[error("tls-cert-file {} holds no PEM certificate", path.display())]
    ClientCertEmpty { path: PathBuf },
    #[error("cannot read tls-key-file {}: {error}", path.display())]
    ClientKeyUnreadable {
        path: PathBuf,
        error: Arc<io::Error>,
    },
    #[error(
        "tls-key-file {0} may be read or written by group or others (mode {mode:04o}), so vmail \
         refuses it (run `chmod 600 {0}`)",
        path.display()
    )]
    ClientKeyShared { path: PathBuf, mode: u32 },
    /// `pem` is rustls-pki-types' description of the PEM error.
    #[error("tls-key-file {}: no usable PEM private key ({pem})", path.display())]
    ClientKeyUnparsable { path: PathBuf, pem: String },
    /// rustls refused the pair (a key of another certificate, an
    /// unsupported key type).
    #[error("tls-cert-file {} with tls-key-file {}: {rustls}", cert.display(), key.display())]
    ClientCertRejected {
        cert: PathBuf,
        key: PathBuf,
        rustls: String,
    },
    #[error("no trust anchors (system store and ca-file both empty): {webpki}")]
    NoTrustAnchors { webpki: String },
    #[error("TLS asked for but no TLS context was set up")]
    NoContext,
    #[error("POP3 over TLS asked for but no TLS context was set up")]
    NoPopContext,
}

/// One refused recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRecipient {
    pub address: String,
    pub reply: Reply,
}

/// A session error. Its texts say what happened; what it means (the job's
/// class, the session, the reply, the advice) is its row in the one table,
/// [`SmtpError::facts`].
#[derive(Debug, Error)]
pub enum SmtpError {
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: io::Error,
    },
    #[error("no answer from the server within {seconds:.1} s during {step}")]
    Timeout { step: Step, seconds: f64 },
    #[error("the server closed the connection during {step}")]
    ConnectionClosed { step: Step },
    #[error("network error during {step}: {source}")]
    Io {
        step: Step,
        #[source]
        source: io::Error,
    },
    #[error("unreadable reply from the server during {step}: {detail}")]
    Protocol { step: Step, detail: ProtocolError },
    #[error("the server refused the connection in its greeting")]
    Greeting { reply: Reply },
    #[error("the server refused EHLO/HELO")]
    Helo { reply: Reply },
    #[error("tls=starttls is required but the server does not offer STARTTLS in its EHLO reply")]
    StartTlsNotOffered { port: u16 },
    #[error("the server refused STARTTLS")]
    StartTlsRefused { reply: Reply },
    #[error("TLS with {host} failed: {detail}")]
    Tls { host: String, detail: String },
    #[error("TLS setup: {detail}")]
    TlsConfig { detail: TlsSetupError },
    #[error("refusing to send AUTH over an unencrypted connection (base64 is not encryption)")]
    PlaintextAuthRefused,
    #[error("the server does not offer AUTH {wanted}; it offers: {}", offered_list(.offered))]
    AuthMechanismNotOffered {
        wanted: String,
        offered: Vec<String>,
    },
    #[error("AUTH {mechanism} needs {needed} in [VMAIL] auth-rsp, found {found}")]
    AuthMissingResponses {
        mechanism: &'static str,
        needed: &'static str,
        found: usize,
    },
    #[error("the server rejected the login (AUTH {mechanism})")]
    AuthRejected {
        mechanism: &'static str,
        reply: Reply,
    },
    #[error("AUTH {mechanism}: the server's challenge is not valid base64")]
    AuthBadChallenge {
        mechanism: &'static str,
        reply: Reply,
    },
    /// No OAuth2 token could be had from the token source (endpoint down,
    /// client revoked, no source attached): nothing was sent for it.
    #[error("{}", no_token(mechanism, .error, .rejected.as_ref()))]
    OAuthToken {
        mechanism: &'static str,
        /// Safe to show: holds no token or secret, only the endpoint's error.
        error: TokenError,
        /// The server's refusal of the previous token, when it was the
        /// forced refresh after it that failed.
        rejected: Option<Reply>,
    },
    /// The server refused the OAuth2 token, a freshly fetched one too when
    /// the refusal was not temporary.
    #[error("{}", oauth_rejected(mechanism, user, .status.as_deref(), *.refreshed))]
    OAuthRejected {
        mechanism: &'static str,
        /// The mailbox the token was for (`oauth-user`).
        user: String,
        /// The final reply (535, 454, ...).
        reply: Reply,
        /// The JSON of the server's `334` error challenge, decoded (boxed:
        /// it is rare, and keeps every `Result<_, SmtpError>` small).
        status: Option<Box<OAuthStatus>>,
        /// Whether a forced refresh and a second AUTH were tried.
        refreshed: bool,
    },
    #[error("POP-before-SMTP login to {host}:{port} failed at {command}: {response}")]
    Pop {
        host: String,
        port: u16,
        command: &'static str,
        response: String,
    },
    #[error("the server refused the sender in MAIL FROM")]
    MailFrom { reply: Reply },
    #[error("the server refused every recipient")]
    RecipientsRefused { refused: Vec<RefusedRecipient> },
    #[error("the server refused the recipient {address}")]
    Recipient { address: String, reply: Reply },
    #[error("the server refused DATA")]
    Data { reply: Reply },
    #[error("the server refused the message after its data")]
    DataEnd { reply: Reply },
    #[error(
        "the message is {size} bytes, over the {limit} bytes the server accepts (its SIZE); \
         it was not sent"
    )]
    SizeExceeded { size: u64, limit: u64 },
    #[error("cannot read the message to send ({what}): {source}")]
    Body {
        /// The file, or `reader` / `source` for other bodies.
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "reading the message failed in the middle of DATA: {source}; the connection was \
         dropped so that no partial message is delivered"
    )]
    BodyRead {
        #[source]
        source: io::Error,
    },
    #[error("the server refused RSET between two messages")]
    Rset { reply: Reply },
    /// An address that is not ASCII even with its domain as an A-label,
    /// to a server that does not offer SMTPUTF8: nothing was sent.
    #[error(
        "the address {address} is not ASCII and the server does not offer SMTPUTF8 (RFC 6531); \
         the message was not sent"
    )]
    NeedsSmtpUtf8 { address: String },
    /// Every server of `[VMAIL] mail-server` failed (several were listed):
    /// each one's last error, in the order they were tried.
    #[error("{}", all_failed(.failures))]
    AllServersFailed { failures: Vec<ServerFailure> },
}

/// One server of `[VMAIL] mail-server` that could not take the session, and
/// why: kept for the job log ("each server tried, with its error") and for
/// the deferral when every server failed.
#[derive(Debug)]
pub struct ServerFailure {
    pub server: MailServer,
    /// The address the error happened at, when the name resolved.
    pub address: Option<SocketAddr>,
    /// Shared: a 4xx to MAIL FROM is also the message's own error.
    pub error: Arc<SmtpError>,
}

impl ServerFailure {
    /// The server, with its address when that is not the host itself.
    pub fn where_(&self) -> String {
        match self.address {
            Some(address) if address.ip().to_string() != self.server.host => {
                format!("{} ({})", self.server, address.ip())
            }
            _ => self.server.to_string(),
        }
    }
}

/// `server: error (server said: reply)`: the error's text with the reply
/// that caused it, as the job's outcome shows a single server's.
impl fmt::Display for ServerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.where_(), self.error)?;
        if let Some(reply) = self.error.reply() {
            write!(f, " (server said: {})", reply.one_line())?;
        }
        Ok(())
    }
}

fn all_failed(failures: &[ServerFailure]) -> String {
    let each: Vec<String> = failures.iter().map(ToString::to_string).collect();
    format!(
        "no mail server took the session ({} tried): {}",
        failures.len(),
        each.join("; ")
    )
}

fn no_token(mechanism: &str, error: &TokenError, rejected: Option<&Reply>) -> String {
    match rejected {
        Some(_) => format!(
            "the server refused the OAuth2 token (AUTH {mechanism}) and no new one could be had: {}",
            error.summary
        ),
        None => format!("no OAuth2 token for AUTH {mechanism}: {}", error.summary),
    }
}

fn oauth_rejected(
    mechanism: &str,
    user: &str,
    status: Option<&OAuthStatus>,
    refreshed: bool,
) -> String {
    let status = status.map(|s| format!(", {s}")).unwrap_or_default();
    let again = if refreshed {
        ", a freshly fetched one too"
    } else {
        ""
    };
    format!("the server rejected the OAuth2 token for {user} (AUTH {mechanism}{status}){again}")
}

fn offered_list(offered: &[String]) -> String {
    if offered.is_empty() {
        "nothing".to_string()
    } else {
        offered.join(" ")
    }
}
