//! Second connections that tell two explanations of one symptom apart.
//! A probe never logs in and never does POP-before-SMTP: the password only
//! ever travels the way the settings ask for.

use super::ProbeRecord;
use vmail_core::{AuthType, SmtpSettings, TlsMode};
use vmail_smtp::{Extensions, Submitter, TlsInfo};

/// What a probe tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// TLS from the first byte: does this port expect `tls=implicit`?
    Implicit,
    /// Plain text: does this port greet in clear (so `tls=implicit` is wrong)?
    PlainFirst,
    /// The configured TLS, certificate recorded but not enforced: what is
    /// the certificate that failed verification?
    Unverified,
    /// STARTTLS: does the server offer AUTH once the link is encrypted?
    StartTls,
}

/// What the probe saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The 220 greeting line, when one came.
    pub greeting: Option<String>,
    /// The last EHLO's extensions, when the session opened.
    pub extensions: Option<Extensions>,
    pub tls: Option<TlsInfo>,
}

impl ProbeKind {
    fn settings(self, configured: &SmtpSettings) -> SmtpSettings {
        let mut settings = configured.clone();
        settings.auth_type = AuthType::None;
        settings.auth_responses = Vec::new();
        settings.pop = None;
        settings.tls_verify = false;
        settings.tls = match self {
            ProbeKind::Implicit => TlsMode::Implicit,
            // None rather than opportunistic: the plain EHLO says whether
            // STARTTLS is on offer.
            ProbeKind::PlainFirst => TlsMode::None,
            ProbeKind::Unverified => configured.tls,
            ProbeKind::StartTls => TlsMode::StartTls,
        };
        settings
    }
}

/// Opens one session the `kind` way, says QUIT, and reports what it saw.
pub async fn probe(configured: &SmtpSettings, kind: ProbeKind) -> (Seen, ProbeRecord) {
    let settings = kind.settings(configured);
    let label = format!("tls={}", settings.tls);
    let (seen, transcript) = match Submitter::new(settings).connect().await {
        Ok(session) => {
            let seen = Seen {
                greeting: Some(session.greeting().one_line()),
                extensions: Some(session.extensions().clone()),
                tls: session.tls().cloned(),
            };
            (seen, session.quit().await)
        }
        Err(failure) => {
            let seen = Seen {
                greeting: super::greeting_line(&failure.transcript),
                extensions: None,
                tls: failure.tls,
            };
            (seen, failure.transcript)
        }
    };
    (seen, ProbeRecord { label, transcript })
}
