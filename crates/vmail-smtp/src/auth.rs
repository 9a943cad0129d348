//! SMTP AUTH: PLAIN, LOGIN and CRAM-MD5, the OAuth2 mechanisms XOAUTH2 and
//! OAUTHBEARER (in [`oauth`]), the choice among what the server offers, and
//! the policy around it. Every line that carries a secret goes to the
//! transcript masked.

pub(crate) mod oauth;

use crate::conn::Conn;
use crate::error::{SmtpError, Step};
use crate::reply::Extensions;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::Md5;
use vmail_core::{AuthType, Reply, Secret, SmtpSettings, TokenSource};

/// A mechanism vmail speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    CramMd5,
    /// Google's and Microsoft's SASL XOAUTH2 with an OAuth2 access token.
    XOAuth2,
    /// RFC 7628 OAUTHBEARER with an OAuth2 access token.
    OAuthBearer,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Whether the login is an OAuth2 access token rather than a password.
    pub fn is_oauth(self) -> bool {
        match self {
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => true,
            Mechanism::Plain | Mechanism::Login | Mechanism::CramMd5 => false,
        }
    }
}

/// `base64("\0user\0password")`, the PLAIN initial response.
pub(crate) fn plain_response(user: &Secret, password: &Secret) -> Secret {
    let mut raw = Vec::with_capacity(user.expose().len() + password.expose().len() + 2);
    raw.push(0);
    raw.extend_from_slice(user.expose().as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.expose().as_bytes());
    let encoded = Secret::new(BASE64.encode(&raw));
    raw.fill(0);
    encoded
}

/// One LOGIN answer: the response in base64.
pub(crate) fn login_response(response: &Secret) -> Secret {
    Secret::new(BASE64.encode(response.expose()))
}

/// RFC 2195: `base64(user SP hex(HMAC-MD5(secret, challenge)))`, where the
/// server's challenge arrives in base64. `None` when it is not base64.
pub(crate) fn cram_md5_response(user: &Secret, secret: &Secret, challenge: &str) -> Option<Secret> {
    let challenge = BASE64.decode(challenge.trim()).ok()?;
    let mut mac = Hmac::<Md5>::new_from_slice(secret.expose().as_bytes()).ok()?;
    mac.update(&challenge);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(Secret::new(
        BASE64.encode(format!("{} {hex}", user.expose())),
    ))
}

/// Decides whether and how to log in. `Ok(None)`: no login (auth-type=none,
/// or the server offers no AUTH at all; the caller warns about the latter).
/// A token is a login like a password: the rule against AUTH over an
/// unencrypted link holds for it too (a bearer token in clear is as good as
/// a password to whoever reads it). With `auto` and the `oauth-*` keys set,
/// only the OAuth2 mechanisms are candidates: falling back to a password
/// would send `auth-rsp` to a server the administrator meant to reach with
/// a token, and hide the real problem.
pub(crate) fn choose(
    settings: &SmtpSettings,
    ext: &Extensions,
    encrypted: bool,
) -> Result<Option<Mechanism>, SmtpError> {
    if settings.auth_type == AuthType::None || !ext.offers_auth() {
        return Ok(None);
    }
    if !encrypted && !settings.allow_plaintext_auth {
        return Err(SmtpError::PlaintextAuthRefused);
    }
    let oauth = settings.oauth.is_some();
    let preference: &[Mechanism] = match settings.auth_type {
        AuthType::Plain => &[Mechanism::Plain],
        AuthType::Login => &[Mechanism::Login],
        AuthType::CramMd5 => &[Mechanism::CramMd5],
        AuthType::XOAuth2 => &[Mechanism::XOAuth2],
        AuthType::OAuthBearer => &[Mechanism::OAuthBearer],
        AuthType::Auto if oauth => &[Mechanism::OAuthBearer, Mechanism::XOAuth2],
        AuthType::Auto if encrypted => &[Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5],
        AuthType::Auto => &[Mechanism::CramMd5, Mechanism::Plain, Mechanism::Login],
        AuthType::None => &[],
    };
    match preference.iter().find(|m| ext.offers(m.name())) {
        Some(mechanism) => Ok(Some(*mechanism)),
        None => Err(SmtpError::AuthMechanismNotOffered {
            wanted: match settings.auth_type {
                AuthType::Auto if oauth => {
                    "OAUTHBEARER or XOAUTH2 (auth-type=auto with the oauth-* keys set)".to_string()
                }
                AuthType::Auto => "PLAIN, LOGIN or CRAM-MD5 (auth-type=auto)".to_string(),
                other => other.sasl_name().unwrap_or("?").to_string(),
            },
            offered: ext.auth.clone(),
        }),
    }
}

/// Runs one AUTH exchange; success is a 235. Passwords come from
/// `auth-rsp`; the OAuth2 mechanisms take their token from `tokens` (see
/// [`oauth::authenticate`] for the refresh-once rule).
pub(crate) async fn authenticate(
    conn: &mut Conn,
    mechanism: Mechanism,
    settings: &SmtpSettings,
    tokens: Option<&dyn TokenSource>,
) -> Result<Reply, SmtpError> {
    let responses = &settings.auth_responses;
    let reply = match mechanism {
        Mechanism::Plain => auth_plain(conn, responses).await?,
        Mechanism::Login => auth_login(conn, responses).await?,
        Mechanism::CramMd5 => auth_cram_md5(conn, responses).await?,
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => {
            return oauth::authenticate(conn, mechanism, settings, tokens).await;
        }
    };
    if reply.code == 235 {
        Ok(reply)
    } else {
        Err(SmtpError::AuthRejected {
            mechanism: mechanism.name(),
            reply,
        })
    }
}

fn user_and_secret(
    mechanism: Mechanism,
    responses: &[Secret],
) -> Result<(&Secret, &Secret), SmtpError> {
    match responses {
        [user, secret, ..] => Ok((user, secret)),
        _ => Err(SmtpError::AuthMissingResponses {
            mechanism: mechanism.name(),
            needed: "a user and a password",
            found: responses.len(),
        }),
    }
}

async fn auth_plain(conn: &mut Conn, responses: &[Secret]) -> Result<Reply, SmtpError> {
    let (user, password) = user_and_secret(Mechanism::Plain, responses)?;
    let payload = plain_response(user, password);
    let wire = Secret::new(format!("AUTH PLAIN {}", payload.expose()));
    conn.command(wire.expose(), Some("AUTH PLAIN <redacted>"), Step::Auth)
        .await
}

/// Answers each 334 prompt with the next response, as VSI-FAX's vmail does.
async fn auth_login(conn: &mut Conn, responses: &[Secret]) -> Result<Reply, SmtpError> {
    if responses.is_empty() {
        return Err(SmtpError::AuthMissingResponses {
            mechanism: "LOGIN",
            needed: "at least a user",
            found: 0,
        });
    }
    let mut reply = conn.command("AUTH LOGIN", None, Step::Auth).await?;
    let mut next = responses.iter();
    while reply.code == 334 {
        let Some(response) = next.next() else {
            // More prompts than answers: cancel rather than guess.
            conn.command("*", None, Step::Auth).await?;
            return Err(SmtpError::AuthMissingResponses {
                mechanism: "LOGIN",
                needed: "one answer for each of the server's prompts",
                found: responses.len(),
            });
        };
        let answer = login_response(response);
        reply = conn
            .command(answer.expose(), Some("<redacted>"), Step::Auth)
            .await?;
    }
    Ok(reply)
}

async fn auth_cram_md5(conn: &mut Conn, responses: &[Secret]) -> Result<Reply, SmtpError> {
    let (user, secret) = user_and_secret(Mechanism::CramMd5, responses)?;
    let reply = conn.command("AUTH CRAM-MD5", None, Step::Auth).await?;
    if reply.code != 334 {
        return Ok(reply);
    }
    let Some(answer) = cram_md5_response(user, secret, &reply.text) else {
        conn.command("*", None, Step::Auth).await?;
        return Err(SmtpError::AuthBadChallenge {
            mechanism: "CRAM-MD5",
            reply,
        });
    };
    conn.command(answer.expose(), Some("<redacted>"), Step::Auth)
        .await
}

#[cfg(test)]
mod tests;
