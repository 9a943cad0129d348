//! SASL with an OAuth2 access token: Google's and Microsoft's XOAUTH2 and
//! RFC 7628 OAUTHBEARER, the server's `334` error challenge (base64 JSON)
//! decoded into the transcript, and one forced refresh after a refused
//! token, never a loop. The token goes on the wire only: the transcript shows
//! `AUTH XOAUTH2 <redacted>`, and no error holds it, in clear or in base64.

use crate::auth::Mechanism;
use crate::conn::Conn;
use crate::error::{ProtocolError, SmtpError, Step};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::fmt;
use std::time::Duration;
use vmail_core::{
    AccessToken, Reply, Secret, SmtpSettings, TokenError, TokenErrorKind, TokenSource,
};

/// The longest AUTH line (with its CRLF) sent with the initial response:
/// RFC 5321's 512 octets for a command line. RFC 4954 §4 says an AUTH
/// command stays subject to that limit and that a client whose initial
/// response would exceed it MUST send `AUTH <mechanism>` alone and the
/// response after the server's empty `334`, where RFC 4954 allows 12,288
/// octets. Servers do enforce it: Dovecot's submission answers `500 5.5.2
/// Line too long` past 512, Gmail `555 5.5.2 command line too long` past
/// about 1,000. A Google access token (about 250 characters) keeps the one
/// round trip of the initial response; Microsoft's JWTs (1.5 KB and more)
/// take the two-step form, one more round trip per session, not per message.
pub(crate) const INITIAL_RESPONSE_LIMIT: usize = 512;

/// Bound on each field decoded from the server's error JSON, so a hostile
/// server cannot fill the log.
const STATUS_FIELD_LIMIT: usize = 256;

/// What the server said about a refused token: the JSON of its `334` error
/// challenge (RFC 7628 §3.2.2; Google and Microsoft send the same for
/// XOAUTH2), decoded. Never holds a token: the server does not echo it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuthStatus {
    /// `status`: `401` (invalid token), `400`, `403` (insufficient scope).
    pub status: Option<String>,
    /// `schemes`: `bearer`.
    pub schemes: Option<String>,
    /// `scope`: the scope the server wants.
    pub scope: Option<String>,
}

impl fmt::Display for OAuthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = [
            ("status", &self.status),
            ("schemes", &self.schemes),
            ("scope", &self.scope),
        ];
        let mut first = true;
        for (name, value) in fields {
            if let Some(value) = value {
                let sep = if first { "" } else { ", " };
                write!(f, "{sep}{name} {value}")?;
                first = false;
            }
        }
        if first {
            f.write_str("no status")?;
        }
        Ok(())
    }
}

impl OAuthStatus {
    /// Decodes the text of a `334` error challenge; `None` when it is not
    /// base64 of a JSON object.
    pub(crate) fn decode(challenge: &str) -> Option<OAuthStatus> {
        let raw = BASE64.decode(challenge.trim()).ok()?;
        let json: serde_json::Value = serde_json::from_slice(&raw).ok()?;
        let object = json.as_object()?;
        let field = |name: &str| {
            object.get(name).and_then(|value| match value {
                serde_json::Value::String(text) => Some(clean(text)),
                serde_json::Value::Number(number) => Some(number.to_string()),
                _ => None,
            })
        };
        Some(OAuthStatus {
            status: field("status"),
            schemes: field("schemes"),
            scope: field("scope"),
        })
    }
}

/// One line, printable, bounded: the text goes into a transcript.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(STATUS_FIELD_LIMIT)
        .collect()
}

/// `base64("user=" user ^A "auth=Bearer " token ^A ^A)`, the XOAUTH2
/// initial response of Google and Microsoft.
pub(crate) fn xoauth2_response(user: &str, token: &Secret) -> Secret {
    let mut raw = Vec::with_capacity(user.len() + token.expose().len() + 24);
    raw.extend_from_slice(b"user=");
    raw.extend_from_slice(user.as_bytes());
    raw.extend_from_slice(b"\x01auth=Bearer ");
    raw.extend_from_slice(token.expose().as_bytes());
    raw.extend_from_slice(b"\x01\x01");
    encode_and_wipe(raw)
}

/// RFC 7628 §3.1: `base64("n,a=" authzid "," ^A "host=" host ^A "port="
/// port ^A "auth=Bearer " token ^A ^A)`, the GS2 header with the mailbox as
/// authorization identity.
pub(crate) fn oauthbearer_response(user: &str, host: &str, port: u16, token: &Secret) -> Secret {
    let header = format!(
        "n,a={},\x01host={host}\x01port={port}",
        escape_authzid(user)
    );
    let mut raw = Vec::with_capacity(header.len() + token.expose().len() + 16);
    raw.extend_from_slice(header.as_bytes());
    raw.extend_from_slice(b"\x01auth=Bearer ");
    raw.extend_from_slice(token.expose().as_bytes());
    raw.extend_from_slice(b"\x01\x01");
    encode_and_wipe(raw)
}

/// RFC 5801 §4 `saslname`: `,` and `=` in the authzid become `=2C` and
/// `=3D`, since `,` ends the GS2 field.
pub(crate) fn escape_authzid(user: &str) -> String {
    let mut escaped = String::with_capacity(user.len());
    for c in user.chars() {
        match c {
            ',' => escaped.push_str("=2C"),
            '=' => escaped.push_str("=3D"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn encode_and_wipe(mut raw: Vec<u8>) -> Secret {
    let encoded = Secret::new(BASE64.encode(&raw));
    raw.fill(0);
    encoded
}

/// Who logs in, and where (OAUTHBEARER names the server).
struct Login<'a> {
    mechanism: Mechanism,
    user: &'a str,
    host: &'a str,
    port: u16,
}

impl Login<'_> {
    fn response(&self, token: &AccessToken) -> Secret {
        if self.mechanism == Mechanism::OAuthBearer {
            oauthbearer_response(self.user, self.host, self.port, &token.token)
        } else {
            xoauth2_response(self.user, &token.token)
        }
    }

    /// The answer to the error challenge that lets the server send its
    /// final reply: an empty line for XOAUTH2; for OAUTHBEARER the single
    /// byte %x01 (RFC 7628 §3.2.3), `AQ==` in base64. Neither is secret.
    fn empty_response(&self) -> (&'static str, &'static str) {
        if self.mechanism == Mechanism::OAuthBearer {
            ("AQ==", "AQ== (the empty response)")
        } else {
            ("", "(the empty response)")
        }
    }
}

/// A refused token: the final reply and the decoded error challenge.
struct Rejection {
    reply: Reply,
    status: Option<OAuthStatus>,
}

impl Rejection {
    /// A 5xx says the token was refused, which a new token may cure; a 4xx
    /// says the server could not check it now, which a new one does not.
    fn worth_refresh(&self) -> bool {
        self.reply.is_permanent()
    }

    fn into_error(self, login: &Login<'_>, refreshed: bool) -> SmtpError {
        SmtpError::OAuthRejected {
            mechanism: login.mechanism.name(),
            user: login.user.to_string(),
            reply: self.reply,
            status: self.status.map(Box::new),
            refreshed,
        }
    }
}

/// Logs in with a token from `tokens`. A refused token (5xx) gets one
/// forced refresh and one more AUTH in this session; a second refusal ends
/// the session with [`SmtpError::OAuthRejected`]. Cached tokens go stale
/// before their expiry (revoked, password changed, permissions edited), so
/// one retry with a fresh token saves a deferral; two would only hammer the
/// token endpoint and the server for a problem an administrator must fix.
pub(crate) async fn authenticate(
    conn: &mut Conn,
    mechanism: Mechanism,
    settings: &SmtpSettings,
    tokens: Option<&dyn TokenSource>,
) -> Result<Reply, SmtpError> {
    let name = mechanism.name();
    let Some(oauth) = &settings.oauth else {
        return Err(not_configured(
            name,
            format!(
                "auth-type={} needs the [VMAIL] oauth-* keys",
                settings.auth_type
            ),
            "set oauth-provider, oauth-client-id, oauth-user and the others (docs/oauth.md)",
        ));
    };
    let Some(source) = tokens else {
        return Err(not_configured(
            name,
            "this program has no OAuth2 token source attached".to_string(),
            "report this as a bug of vmail: the oauth-* keys are set but unused",
        ));
    };
    let login = Login {
        mechanism,
        user: &oauth.user,
        host: &settings.host,
        port: settings.port,
    };
    let token = fetch(conn, source, false, name, None).await?;
    let rejection = match attempt(conn, &login, &token).await? {
        Ok(reply) => return Ok(reply),
        Err(rejection) => rejection,
    };
    drop(token);
    if !rejection.worth_refresh() {
        return Err(rejection.into_error(&login, false));
    }
    conn.transcript
        .note("the server refused the OAuth2 token: fetching a new one and trying once more");
    let token = fetch(conn, source, true, name, Some(&rejection.reply)).await?;
    match attempt(conn, &login, &token).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(second)) => Err(second.into_error(&login, true)),
        // A server that hangs up after refusing a token must not hide why:
        // the refusal, with its reply and status, is what the job keeps.
        Err(SmtpError::ConnectionClosed { .. }) => {
            conn.transcript
                .note("the server closed the connection after refusing the OAuth2 token");
            Err(rejection.into_error(&login, false))
        }
        Err(other) => Err(other),
    }
}

fn not_configured(mechanism: &'static str, summary: String, advice: &str) -> SmtpError {
    SmtpError::OAuthToken {
        mechanism,
        error: TokenError {
            kind: TokenErrorKind::NotConfigured,
            summary,
            advice: Some(advice.to_string()),
        },
        rejected: None,
    }
}

/// A token from the source, within the session's step timeout: the
/// connection waits meanwhile, and the server's idle timer runs.
async fn fetch(
    conn: &mut Conn,
    source: &dyn TokenSource,
    force_refresh: bool,
    mechanism: &'static str,
    rejected: Option<&Reply>,
) -> Result<AccessToken, SmtpError> {
    let timeout = conn.timeout;
    let error = match tokio::time::timeout(timeout, source.token(force_refresh)).await {
        Ok(Ok(token)) => return Ok(token),
        Ok(Err(error)) => error,
        Err(_) => no_token_in_time(timeout),
    };
    conn.transcript
        .note(format!("no OAuth2 token: {}", error.summary));
    Err(SmtpError::OAuthToken {
        mechanism,
        error,
        rejected: rejected.cloned(),
    })
}

fn no_token_in_time(timeout: Duration) -> TokenError {
    TokenError {
        kind: TokenErrorKind::Unreachable,
        summary: format!(
            "the token endpoint gave no token within {:.1} s",
            timeout.as_secs_f64()
        ),
        advice: Some("check that this host reaches [VMAIL] oauth-token-url".to_string()),
    }
}

/// One AUTH with one token: `Ok(Ok(235))`, `Ok(Err(refusal))`, or a
/// session error.
async fn attempt(
    conn: &mut Conn,
    login: &Login<'_>,
    token: &AccessToken,
) -> Result<Result<Reply, Rejection>, SmtpError> {
    let name = login.mechanism.name();
    let payload = login.response(token);
    let shown = format!("AUTH {name} <redacted>");
    let wire = Secret::new(format!("AUTH {name} {}", payload.expose()));
    let mut reply = if wire.expose().len() + 2 <= INITIAL_RESPONSE_LIMIT {
        conn.command(wire.expose(), Some(&shown), Step::Auth)
            .await?
    } else {
        conn.transcript.note(format!(
            "the token makes an AUTH line over {INITIAL_RESPONSE_LIMIT} bytes: sending it after \
             the server's 334"
        ));
        let ready = conn
            .command(&format!("AUTH {name}"), None, Step::Auth)
            .await?;
        if ready.code != 334 {
            return Ok(settle(ready, None));
        }
        conn.command(payload.expose(), Some("<redacted>"), Step::Auth)
            .await?
    };
    drop(wire);
    drop(payload);
    let mut status = None;
    if reply.code == 334 {
        status = OAuthStatus::decode(&reply.text);
        conn.transcript.note(match &status {
            Some(status) => format!("the server refused the OAuth2 token: {status}"),
            None => {
                "the server's 334 after the token is not base64 JSON (RFC 7628 §3.2.2)".to_string()
            }
        });
        let (empty, shown) = login.empty_response();
        reply = conn.command(empty, Some(shown), Step::Auth).await?;
        if reply.code == 334 {
            // A second challenge is outside every OAuth SASL profile: cancel.
            conn.command("*", None, Step::Auth).await?;
            return Err(SmtpError::Protocol {
                step: Step::Auth,
                detail: ProtocolError::SecondChallenge {
                    mechanism: name.to_string(),
                },
            });
        }
    }
    Ok(settle(reply, status))
}

fn settle(reply: Reply, status: Option<OAuthStatus>) -> Result<Reply, Rejection> {
    if reply.code == 235 {
        Ok(reply)
    } else {
        Err(Rejection { reply, status })
    }
}

#[cfg(test)]
mod tests;
