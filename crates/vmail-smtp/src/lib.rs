//! vmail's SMTP session engine.
//!
//! A [`Submitter`] holds the `[VMAIL]` settings, the TLS trust anchors and,
//! for OAuth2 logins, a [`vmail_core::TokenSource`] ([`Submitter::with_tokens`]);
//! [`Submitter::send`] opens one session (POP-before-SMTP, connect, greeting,
//! EHLO or HELO, STARTTLS or implicit TLS, AUTH), sends every message over
//! it (`RSET` between them, one login), says QUIT and returns a
//! [`SessionReport`]: per message and per recipient an [`Outcome`] with the
//! server's reply, and the redacted, timestamped [`Transcript`].
//! [`Submitter::connect`] gives the open [`Session`] itself, for tools that
//! want to look at the greeting, the extensions and the certificate.
//!
//! Every error is an [`SmtpError`]; its row in one table
//! ([`SmtpError::facts`]) says whether it defers or fails the job, whether
//! it ends the session, the reply behind it and what the administrator
//! changes; [`classify`] turns it into Deferred or Failed from that row.
//!
//! ```no_run
//! use vmail_core::{AuthType, Envelope, Secret, SmtpSettings, TlsMode};
//! use vmail_smtp::{Body, Outgoing, Submitter};
//!
//! # async fn demo() {
//! let mut settings = SmtpSettings::plain("mail.example.com", 587);
//! settings.tls = TlsMode::StartTls;
//! settings.auth_type = AuthType::Auto;
//! settings.auth_responses = vec![Secret::new("jms1@jms1.net"), Secret::new("not.my.real.password")];
//! let submitter = Submitter::new(settings);
//! let message = Outgoing::new(
//!     Envelope::new("fax@example.com", vec!["jms1@jms1.net".to_string()]),
//!     Body::File("/var/spool/vmail/queue/job.eml".into()),
//! );
//! let report = submitter.send(vec![message]).await;
//! for message in &report.messages {
//!     println!("{}", message.outcome);
//! }
//! print!("{}", report.transcript);
//! # }
//! ```
#![forbid(unsafe_code)]

mod auth;
mod classify;
mod conn;
mod data;
mod eightbit;
mod error;
mod facts;
mod failover;
mod message;
mod params;
mod pop;
mod reply;
mod session;
mod tls;
mod transcript;

pub use auth::Mechanism;
pub use auth::oauth::OAuthStatus;
pub use classify::classify;
pub use error::{ProtocolError, RefusedRecipient, ServerFailure, SmtpError, Step, TlsSetupError};
pub use facts::{
    Advice, Class, ErrorFacts, Server, SessionEffect, basic_auth_disabled, has_enhanced,
    oauth_not_permitted, relay_denied,
};
pub use message::{BeforeEnd, Body, MessageReport, Outgoing, RecipientReport};
pub use reply::Extensions;
pub use session::{Session, SessionFailure};
pub use tls::{CertificateCheck, CertificateProblem, PeerCertificate, TlsInfo};
pub use transcript::{Direction, Transcript, TranscriptLine};
pub use vmail_core::Outcome;

use std::sync::Arc;
use std::time::Duration;
use tls::TlsContext;
use vmail_core::{SmtpSettings, TlsMode, TokenSource};

/// Sends messages to the first server of its settings that takes them
/// (`[VMAIL] mail-server` may list several, tried in order).
#[derive(Debug)]
pub struct Submitter {
    settings: SmtpSettings,
    /// Trust anchors, loaded once (system store and `ca-file`); `None` when
    /// neither SMTP nor POP uses TLS.
    tls: Option<Result<TlsContext, TlsSetupError>>,
    /// Where XOAUTH2 and OAUTHBEARER get their access tokens; shared by
    /// every session, so that the source's cache and its one-request rule
    /// hold across them.
    tokens: Option<Arc<dyn TokenSource>>,
    /// Which of several servers are down: shared by every session, so that
    /// one that failed is skipped by the next session too.
    health: failover::Health,
}

/// The result of one session.
#[derive(Debug)]
pub struct SessionReport {
    /// One report per message given, in order.
    pub messages: Vec<MessageReport>,
    pub transcript: Transcript,
    pub tls: Option<TlsInfo>,
    /// The EHLO extensions, when the session got that far.
    pub extensions: Option<Extensions>,
    pub authenticated: Option<Mechanism>,
    /// The error that kept the session from opening (every message then
    /// carries its outcome).
    pub session_error: Option<SmtpError>,
    /// The servers of `mail-server` tried before the session opened (or
    /// before `session_error`), each with its error, in order.
    pub failed_over: Vec<ServerFailure>,
}

impl Submitter {
    pub fn new(settings: SmtpSettings) -> Submitter {
        let pop_tls = settings.pop.as_ref().is_some_and(|pop| pop.tls);
        let tls = (settings.tls != TlsMode::None || pop_tls).then(|| TlsContext::new(&settings));
        Submitter {
            settings,
            tls,
            tokens: None,
            health: failover::Health::new(Duration::from_secs(60), Duration::from_secs(3600)),
        }
    }

    /// How long a server of several that failed is skipped while a later
    /// one works: `min` the first time, doubling up to `max` (a daemon
    /// passes `retry-min` and `retry-max`; 60 s and 1 h without this).
    pub fn with_failover_backoff(mut self, min: Duration, max: Duration) -> Submitter {
        self.health = failover::Health::new(min, max);
        self
    }

    /// For a connection that only looks (`vfxadmin check`'s second one):
    /// the server's certificate is fetched and shown without enforcing
    /// the CA check or the pins.
    pub fn look_only(mut self) -> Submitter {
        self.tls = self.tls.map(|tls| tls.map(TlsContext::look_only));
        self
    }

    /// Attaches the source of OAuth2 access tokens (`vmail-oauth` builds
    /// it from `settings.oauth`). Without one, auth-type xoauth2 or
    /// oauthbearer (or auto with the `oauth-*` keys set) ends the session
    /// with [`SmtpError::OAuthToken`] before any AUTH is sent.
    pub fn with_tokens(mut self, tokens: Arc<dyn TokenSource>) -> Submitter {
        self.tokens = Some(tokens);
        self
    }

    pub fn settings(&self) -> &SmtpSettings {
        &self.settings
    }

    /// Opens a session: POP-before-SMTP when configured, then connect,
    /// greeting, EHLO, TLS, AUTH with the first server of `mail-server`
    /// (and address of it) that takes the session; the others that were
    /// tried are in [`Session::failed_over`] or
    /// [`SessionFailure::failed_over`].
    pub async fn connect(&self) -> Result<Session, SessionFailure> {
        let tls = match &self.tls {
            None => None,
            Some(Ok(ctx)) => Some(ctx),
            Some(Err(detail)) => {
                return Err(SessionFailure {
                    error: SmtpError::TlsConfig {
                        detail: detail.clone(),
                    },
                    transcript: Transcript::new(),
                    tls: None,
                    failed_over: Vec::new(),
                });
            }
        };
        let mut transcript = Transcript::new();
        if let Some(pop) = &self.settings.pop
            && let Err(error) =
                pop::pop_before_smtp(pop, tls, self.settings.timeout, &mut transcript).await
        {
            return Err(SessionFailure {
                error,
                transcript,
                tls: None,
                failed_over: Vec::new(),
            });
        }
        let opener = failover::Opener {
            settings: &self.settings,
            tls,
            tokens: self.tokens.as_deref(),
            health: &self.health,
        };
        failover::open(&opener, transcript, Vec::new()).await
    }

    /// Whether `error`, met by a message on `session`, moves the message
    /// (and those after it) to the next server of `mail-server`: a 4xx to
    /// MAIL FROM, or the connection lost there, with a server left to try.
    /// Only at MAIL FROM: later in the message the server may already have
    /// taken it, and a second copy through another server is worse than a
    /// deferral.
    pub fn can_fail_over(&self, session: &Session, error: &SmtpError) -> bool {
        let at_mail_from = match error {
            SmtpError::MailFrom { .. } => error.fails_over(),
            SmtpError::Timeout { step, .. }
            | SmtpError::ConnectionClosed { step }
            | SmtpError::Io { step, .. } => *step == Step::MailFrom,
            _ => false,
        };
        let mut tried: Vec<&vmail_core::MailServer> =
            session.failed_over().iter().map(|f| &f.server).collect();
        tried.push(session.server());
        at_mail_from && failover::any_left(&self.settings, &tried)
    }

    /// Ends `session` after `error` ([`Submitter::can_fail_over`]) and opens
    /// one with the next server not tried yet, its server counted as down.
    /// The new session's [`Session::failed_over`] lists every server tried
    /// so far, this one with `error`.
    pub async fn fail_over(
        &self,
        mut session: Session,
        error: Arc<SmtpError>,
    ) -> Result<Session, SessionFailure> {
        let mut failed = std::mem::take(&mut session.failed_over);
        let server = session.server().clone();
        let address = Some(session.address());
        if self.settings.fallbacks.is_empty() {
            // A single server has no failover state to keep.
        } else {
            self.health.failed(&server, &error.to_string());
        }
        let mut transcript = session.quit().await;
        transcript.note(format!(
            "{server} failed: trying the next server of mail-server"
        ));
        failed.push(ServerFailure {
            server,
            address,
            error,
        });
        let tls = match &self.tls {
            Some(Ok(ctx)) => Some(ctx),
            _ => None,
        };
        let opener = failover::Opener {
            settings: &self.settings,
            tls,
            tokens: self.tokens.as_deref(),
            health: &self.health,
        };
        failover::open(&opener, transcript, failed).await
    }

    /// Sends every message over one session and says QUIT.
    pub async fn send(&self, messages: Vec<Outgoing>) -> SessionReport {
        let messages = params::with_defaults(messages, &self.settings.dsn);
        let mut session = match self.connect().await {
            Ok(session) => session,
            Err(failure) => return not_sent(messages, failure),
        };
        let mut reports = Vec::with_capacity(messages.len());
        let mut messages = messages.into_iter();
        let several = !self.settings.fallbacks.is_empty();
        while let Some(message) = messages.next() {
            // A copy to send again on the next server after a 4xx to MAIL
            // FROM; a reader cannot be read twice, so it stays with its 4xx.
            let again = several.then(|| message.body.copy()).flatten();
            let report = session.send(&message.envelope, message.body).await;
            let failover = report
                .error
                .clone()
                .filter(|error| self.can_fail_over(&session, error));
            let (Some(error), Some(body)) = (failover, again) else {
                reports.push(report);
                continue;
            };
            session = match self.fail_over(session, error).await {
                Ok(next) => next,
                Err(failure) => {
                    let first = Outgoing::new(message.envelope, body);
                    let rest = std::iter::once(first).chain(messages).collect();
                    let mut left = not_sent(rest, failure);
                    reports.append(&mut left.messages);
                    left.messages = reports;
                    return left;
                }
            };
            reports.push(session.send(&message.envelope, body).await);
        }
        let tls = session.tls().cloned();
        let extensions = Some(session.extensions().clone());
        let authenticated = session.authenticated();
        let failed_over = std::mem::take(&mut session.failed_over);
        SessionReport {
            messages: reports,
            transcript: session.quit().await,
            tls,
            extensions,
            authenticated,
            session_error: None,
            failed_over,
        }
    }
}

fn not_sent(messages: Vec<Outgoing>, failure: SessionFailure) -> SessionReport {
    let outcome = classify(&failure.error);
    let all_lines = 0..failure.transcript.lines().len();
    let reports = messages
        .iter()
        .map(|message| MessageReport {
            outcome: outcome.clone(),
            recipients: message
                .envelope
                .recipients
                .iter()
                .map(|address| RecipientReport {
                    address: address.clone(),
                    outcome: outcome.clone(),
                })
                .collect(),
            error: None,
            bytes: 0,
            transcript_lines: all_lines.clone(),
        })
        .collect();
    SessionReport {
        messages: reports,
        transcript: failure.transcript,
        tls: failure.tls,
        extensions: None,
        authenticated: None,
        session_error: Some(failure.error),
        failed_over: failure.failed_over,
    }
}

/// Entry points for the fuzz targets in `fuzz/`, not part of the API: the
/// reply parser and the EHLO reader on bytes from a (hostile) server.
#[doc(hidden)]
pub mod fuzz {
    use crate::ProtocolError;
    pub use crate::reply::Extensions;
    use vmail_core::Reply;

    /// What the reply parser made of a server's bytes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Parsed {
        /// The complete replies, each with the bytes it was made of.
        pub replies: Vec<(Reply, Vec<u8>)>,
        /// Why parsing stopped, when it stopped on an error (the session
        /// then ends with a protocol error).
        pub error: Option<ProtocolError>,
        /// Bytes received and not yet part of a reply.
        pub left: usize,
    }

    /// Feeds `bytes` to the reply parser the way the connection does: in
    /// reads of the sizes in `reads` (0 is read as 1; the rest in one last
    /// read), parsing whatever has arrived before reading more.
    pub fn replies(bytes: &[u8], reads: &[usize]) -> Parsed {
        let mut parser = crate::reply::ReplyParser::default();
        let mut pieces = reads
            .iter()
            .scan(0usize, |at, &n| {
                let start = (*at).min(bytes.len());
                *at = start + n.max(1);
                Some(&bytes[start..(*at).min(bytes.len())])
            })
            .filter(|piece| !piece.is_empty())
            .collect::<Vec<_>>();
        let used: usize = pieces.iter().map(|p| p.len()).sum();
        pieces.push(&bytes[used..]);
        let mut parsed = Parsed {
            replies: Vec::new(),
            error: None,
            left: 0,
        };
        let mut buf = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            while !buf.is_empty() {
                match parser.feed(&mut buf) {
                    Ok(Some(raw)) => parsed.replies.push((raw.reply, raw.raw)),
                    Ok(None) => break,
                    Err(why) => {
                        parsed.error = Some(why);
                        parsed.left = buf.len();
                        return parsed;
                    }
                }
            }
        }
        parsed.left = buf.len() + parser.pending();
        parsed
    }

    /// The EHLO reader, on the raw bytes of a 250 reply.
    pub fn ehlo(raw: &[u8]) -> Result<Extensions, ProtocolError> {
        Extensions::parse(raw)
    }
}
