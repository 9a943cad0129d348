//! Opening a session: POP-before-SMTP, connect, greeting, EHLO (or HELO),
//! TLS, AUTH. Each is a named step; the first error ends the opening.

use crate::auth::{self, Mechanism};
use crate::conn::{Conn, Stream, connect_address};
use crate::error::{ProtocolError, ServerFailure, SmtpError, Step, TlsSetupError};
use crate::facts::SessionEffect;
use crate::reply::Extensions;
use crate::tls::{TlsContext, TlsInfo};
use crate::transcript::Transcript;
use std::net::SocketAddr;
use vmail_core::{MailServer, Reply, SmtpSettings, TlsMode, TokenSource};

/// An open, greeted, (maybe) encrypted and logged-in SMTP session, ready to
/// carry messages with [`Session::send`].
pub struct Session {
    pub(crate) conn: Conn,
    pub(crate) ext: Extensions,
    greeting: Reply,
    tls: Option<TlsInfo>,
    auth: Option<Mechanism>,
    /// Messages tried so far (an RSET goes before every one after the first).
    pub(crate) transactions: usize,
    /// Why no further message can go over this connection.
    pub(crate) broken: Option<String>,
    /// The server of `mail-server` this session is with, and its address.
    server: MailServer,
    address: SocketAddr,
    /// The servers tried before this one, each with its error, in order.
    pub(crate) failed_over: Vec<ServerFailure>,
}

/// A session that could not be opened, with what was said until then.
#[derive(Debug)]
pub struct SessionFailure {
    pub error: SmtpError,
    pub transcript: Transcript,
    /// The TLS details, when the failure came after the handshake.
    pub tls: Option<TlsInfo>,
    /// The servers of `mail-server` tried before the one that gave
    /// `error`, each with its error, in order (empty for a single server).
    pub failed_over: Vec<ServerFailure>,
}

/// What [`open`] has learnt so far, kept for the failure report.
struct Opening {
    tls: Option<TlsInfo>,
}

impl Session {
    /// Opens a session with the server `settings` name, at `address` (one
    /// that its host name resolved to), continuing `transcript`. `tls`
    /// holds the trust anchors; it is needed unless SMTP runs without TLS.
    /// `tokens` gives the OAuth2 access tokens for XOAUTH2 and OAUTHBEARER.
    /// POP-before-SMTP is the caller's, once before the first server.
    pub(crate) async fn open(
        settings: &SmtpSettings,
        address: SocketAddr,
        tls: Option<&TlsContext>,
        tokens: Option<&dyn TokenSource>,
        mut transcript: Transcript,
    ) -> Result<Session, SessionFailure> {
        let mut opening = Opening { tls: None };
        let connected = connect(settings, address, tls, &mut transcript, &mut opening).await;
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(error) => {
                return Err(SessionFailure {
                    error,
                    transcript,
                    tls: opening.tls,
                    failed_over: Vec::new(),
                });
            }
        };
        match handshake(&mut conn, settings, tls, tokens, &mut opening).await {
            Ok((greeting, ext, auth)) => Ok(Session {
                conn,
                ext,
                greeting,
                tls: opening.tls,
                auth,
                transactions: 0,
                broken: None,
                server: MailServer::new(settings.host.clone(), settings.port),
                address,
                failed_over: Vec::new(),
            }),
            Err(error) => {
                if error.facts().session != SessionEffect::Lost {
                    conn.quit_quietly().await;
                }
                Err(SessionFailure {
                    error,
                    transcript: conn.transcript,
                    tls: opening.tls,
                    failed_over: Vec::new(),
                })
            }
        }
    }

    /// The server of `[VMAIL] mail-server` the session is with.
    pub fn server(&self) -> &MailServer {
        &self.server
    }

    /// The address of [`Session::server`] the session is connected to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The servers of `mail-server` tried before this one, each with its
    /// error, in the order they were tried: empty when the first worked.
    pub fn failed_over(&self) -> &[ServerFailure] {
        &self.failed_over
    }

    /// The server's greeting (220).
    pub fn greeting(&self) -> &Reply {
        &self.greeting
    }

    /// What the last EHLO announced (empty after HELO).
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// The TLS details, when the session is encrypted.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// The mechanism the session logged in with, if it did.
    pub fn authenticated(&self) -> Option<Mechanism> {
        self.auth
    }

    /// The redacted transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.conn.transcript
    }

    /// Says QUIT (errors do not matter any more) and returns the transcript.
    pub async fn quit(mut self) -> Transcript {
        self.conn.quit_quietly().await;
        self.conn.transcript
    }
}

/// TCP, then TLS at once for `tls=implicit`.
async fn connect(
    settings: &SmtpSettings,
    address: SocketAddr,
    tls: Option<&TlsContext>,
    transcript: &mut Transcript,
    opening: &mut Opening,
) -> Result<Conn, SmtpError> {
    let server = MailServer::new(settings.host.clone(), settings.port);
    let at = if address.ip().to_string() == settings.host {
        String::new()
    } else {
        format!(" at {}", address.ip())
    };
    transcript.note(format!("connecting to {server}{at} (tls={})", settings.tls));
    let tcp = connect_address(&settings.host, address, settings.timeout).await?;
    let stream = if settings.tls == TlsMode::Implicit {
        let ctx = need_tls(tls)?;
        let (stream, info) = ctx
            .handshake(&settings.host, tcp, settings.timeout, transcript)
            .await?;
        opening.tls = Some(info);
        Stream::Tls(Box::new(stream))
    } else {
        Stream::Plain(tcp)
    };
    Ok(Conn::new(
        stream,
        settings.timeout,
        std::mem::take(transcript),
    ))
}

fn need_tls(tls: Option<&TlsContext>) -> Result<&TlsContext, SmtpError> {
    tls.ok_or(SmtpError::TlsConfig {
        detail: TlsSetupError::NoContext,
    })
}

/// Greeting, EHLO, STARTTLS, AUTH.
async fn handshake(
    conn: &mut Conn,
    settings: &SmtpSettings,
    tls: Option<&TlsContext>,
    tokens: Option<&dyn TokenSource>,
    opening: &mut Opening,
) -> Result<(Reply, Extensions, Option<Mechanism>), SmtpError> {
    let greeting = greet(conn).await?;
    let mut ext = ehlo(conn, &settings.helo_name).await?;
    if wants_starttls(settings, &ext)? {
        opening.tls = Some(starttls(conn, settings, need_tls(tls)?).await?);
        ext = ehlo(conn, &settings.helo_name).await?;
    }
    let auth = login(conn, settings, &ext, tokens).await?;
    Ok((greeting, ext, auth))
}

async fn greet(conn: &mut Conn) -> Result<Reply, SmtpError> {
    let greeting = conn.read_reply(Step::Greeting).await?.reply;
    if greeting.code == 220 {
        Ok(greeting)
    } else {
        Err(SmtpError::Greeting { reply: greeting })
    }
}

/// EHLO, and HELO when EHLO gets a 5xx (servers older than ESMTP).
async fn ehlo(conn: &mut Conn, helo_name: &str) -> Result<Extensions, SmtpError> {
    conn.queue(&format!("EHLO {helo_name}"), None);
    conn.flush(Step::Ehlo).await?;
    let raw = conn.read_reply(Step::Ehlo).await?;
    if raw.reply.code == 250 {
        return Extensions::parse(&raw.raw).map_err(|detail| SmtpError::Protocol {
            step: Step::Ehlo,
            detail,
        });
    }
    if !raw.reply.is_permanent() {
        return Err(SmtpError::Helo { reply: raw.reply });
    }
    conn.transcript
        .note("EHLO refused; trying HELO (no ESMTP extensions)");
    let reply = conn
        .command(&format!("HELO {helo_name}"), None, Step::Ehlo)
        .await?;
    if reply.code == 250 {
        Ok(Extensions::default())
    } else {
        Err(SmtpError::Helo { reply })
    }
}

fn wants_starttls(settings: &SmtpSettings, ext: &Extensions) -> Result<bool, SmtpError> {
    match settings.tls {
        TlsMode::None | TlsMode::Implicit => Ok(false),
        TlsMode::Opportunistic => Ok(ext.starttls),
        TlsMode::StartTls if ext.starttls => Ok(true),
        TlsMode::StartTls => Err(SmtpError::StartTlsNotOffered {
            port: settings.port,
        }),
    }
}

async fn starttls(
    conn: &mut Conn,
    settings: &SmtpSettings,
    ctx: &TlsContext,
) -> Result<TlsInfo, SmtpError> {
    let reply = conn.command("STARTTLS", None, Step::StartTls).await?;
    if reply.code != 220 {
        return Err(SmtpError::StartTlsRefused { reply });
    }
    if conn.has_unread() {
        // Bytes sent before the handshake would be taken as said over TLS.
        return Err(SmtpError::Protocol {
            step: Step::StartTls,
            detail: ProtocolError::DataAfterStartTls,
        });
    }
    let Stream::Plain(tcp) = std::mem::replace(&mut conn.stream, Stream::Closed) else {
        return Err(SmtpError::Protocol {
            step: Step::StartTls,
            detail: ProtocolError::AlreadyEncrypted,
        });
    };
    let (stream, info) = ctx
        .handshake(&settings.host, tcp, settings.timeout, &mut conn.transcript)
        .await?;
    conn.stream = Stream::Tls(Box::new(stream));
    Ok(info)
}

/// The AUTH policy: none offered → go on unauthenticated, loudly; otherwise
/// log in or fail (never fall back to sending without the login).
async fn login(
    conn: &mut Conn,
    settings: &SmtpSettings,
    ext: &Extensions,
    tokens: Option<&dyn TokenSource>,
) -> Result<Option<Mechanism>, SmtpError> {
    let encrypted = conn.stream.is_tls();
    if settings.auth_type != vmail_core::AuthType::None && !ext.offers_auth() {
        conn.transcript.warn(format!(
            "auth-type={} but the server offers no AUTH: sending without logging in",
            settings.auth_type
        ));
    }
    let Some(mechanism) = auth::choose(settings, ext, encrypted)? else {
        return Ok(None);
    };
    auth::authenticate(conn, mechanism, settings, tokens).await?;
    Ok(Some(mechanism))
}

impl Conn {
    /// QUIT with a short wait for the answer; the connection ends anyway.
    pub(crate) async fn quit_quietly(&mut self) {
        if matches!(self.stream, Stream::Closed) {
            return;
        }
        if self.command("QUIT", None, Step::Quit).await.is_ok() {
            use tokio::io::AsyncWriteExt;
            let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
        }
        self.stream = Stream::Closed;
    }
}
