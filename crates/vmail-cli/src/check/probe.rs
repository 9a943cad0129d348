//! Second connections that tell two explanations of one symptom apart.
//! A probe never logs in and never does POP-before-SMTP: the password only
//! ever travels the way the settings ask for.

use super::ProbeRecord;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use vmail_core::{AuthType, SmtpSettings, TlsMode};
use vmail_smtp::{Extensions, Submitter, TlsInfo};

/// What a probe tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// TLS from the first byte: does this port expect `tls=implicit`?
    Implicit,
    /// Plain text: does this port greet in clear (so `tls=implicit` is wrong)?
    PlainFirst,
    /// The configured TLS, the certificate fetched without verifying it
    /// (look-only): what is the certificate that failed verification?
    Unverified,
    /// STARTTLS: does the server offer AUTH once the link is encrypted?
    StartTls,
    /// Plain TCP, no SMTP: what does the server send first? (for a
    /// greeting that is not SMTP: an SSH, HTTP or POP3 port).
    FirstLine,
}

/// How long a probe waits for the first bytes on a plain connection: a
/// mail server greets at once, and a port that speaks TLS first never does.
pub const FIRST_BYTE: Duration = Duration::from_secs(5);

/// The most of a first line that is shown.
const FIRST_LINE_MAX: usize = 120;

/// What the probe saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The 220 greeting line, when one came.
    pub greeting: Option<String>,
    /// The last EHLO's extensions, when the session opened.
    pub extensions: Option<Extensions>,
    pub tls: Option<TlsInfo>,
    /// [`ProbeKind::FirstLine`]: the first line it sent, printable.
    pub first_line: Option<String>,
}

impl ProbeKind {
    fn settings(self, configured: &SmtpSettings) -> SmtpSettings {
        let mut settings = configured.clone();
        settings.auth_type = AuthType::None;
        settings.auth_responses = Vec::new();
        settings.pop = None;
        settings.tls = match self {
            ProbeKind::Implicit => TlsMode::Implicit,
            // None rather than opportunistic: the plain EHLO says whether
            // STARTTLS is on offer.
            ProbeKind::PlainFirst => TlsMode::None,
            ProbeKind::Unverified => configured.tls,
            ProbeKind::StartTls => TlsMode::StartTls,
            ProbeKind::FirstLine => TlsMode::None,
        };
        settings
    }
}

/// Opens one session the `kind` way, says QUIT, and reports what it saw.
/// [`ProbeKind::FirstLine`] only reads: its record holds no transcript.
pub async fn probe(configured: &SmtpSettings, kind: ProbeKind) -> (Seen, Option<ProbeRecord>) {
    if kind == ProbeKind::FirstLine {
        let seen = Seen {
            first_line: first_line(configured).await,
            ..Seen::default()
        };
        return (seen, None);
    }
    let settings = kind.settings(configured);
    let label = format!("tls={}", settings.tls);
    let (seen, transcript) = match Submitter::new(settings).look_only().connect().await {
        Ok(session) => {
            let seen = Seen {
                greeting: Some(session.greeting().one_line()),
                extensions: Some(session.extensions().clone()),
                tls: session.tls().cloned(),
                first_line: None,
            };
            (seen, session.quit().await)
        }
        Err(failure) => {
            let seen = Seen {
                greeting: super::greeting_line(&failure.transcript),
                extensions: None,
                tls: failure.tls,
                first_line: None,
            };
            (seen, failure.transcript)
        }
    };
    (seen, Some(ProbeRecord { label, transcript }))
}

/// Connects in plain TCP and reads what the server sends first, within
/// [`FIRST_BYTE`] (and the configured timeout for the connection): the
/// first line, control characters shown as `?`, cut to 120 characters.
async fn first_line(settings: &SmtpSettings) -> Option<String> {
    let address = (settings.host.as_str(), settings.port);
    let mut stream = tokio::time::timeout(settings.timeout, TcpStream::connect(address))
        .await
        .ok()?
        .ok()?;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 512];
    let read = async {
        while !bytes.contains(&b'\n') && bytes.len() < 512 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(FIRST_BYTE, read).await;
    printable_line(&bytes)
}

/// The first line of `bytes` as text an administrator can read.
pub fn printable_line(bytes: &[u8]) -> Option<String> {
    let line = bytes.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text: String = String::from_utf8_lossy(line)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(FIRST_LINE_MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    })
}

/// Whether the server says nothing on a plain connection for
/// [`FIRST_BYTE`]: a port that speaks TLS first waits for the client's
/// hello. `false` when the connection fails (the session reports that).
pub async fn silent_at_first(settings: &SmtpSettings) -> bool {
    let address = (settings.host.as_str(), settings.port);
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(settings.timeout, TcpStream::connect(address)).await
    else {
        return false;
    };
    let mut byte = [0u8; 1];
    tokio::time::timeout(FIRST_BYTE, stream.read(&mut byte))
        .await
        .is_err()
}
