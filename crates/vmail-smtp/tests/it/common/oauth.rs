//! A fake token source that counts its calls, OAuth settings and a script
//! for the fault server, a session with the fake, and the search for tokens
//! in everything a report shows.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use vmail_core::{
    AccessToken, AuthType, OAuthGrant, OAuthProvider, OAuthSettings, Secret, SmtpSettings,
    TokenError, TokenErrorKind, TokenFuture, TokenSource,
};
use vmail_smtp::{SessionReport, Submitter};
use vmail_testkit::fault::Script;

/// The mailbox the tokens are for.
pub const MAILBOX: &str = "fax@example.test";

/// Hands out its tokens in order (the last one again when they run out),
/// or fails every call; records the `force_refresh` flag of every call.
#[derive(Debug)]
pub struct FakeTokens {
    tokens: Vec<String>,
    failure: Option<TokenError>,
    /// Never answer (a token endpoint that accepts and stalls).
    hangs: bool,
    calls: Mutex<Vec<bool>>,
}

impl FakeTokens {
    pub fn handing_out(tokens: &[&str]) -> FakeTokens {
        FakeTokens {
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
            failure: None,
            hangs: false,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// A source whose every call stays pending.
    pub fn hanging() -> FakeTokens {
        FakeTokens {
            hangs: true,
            ..FakeTokens::handing_out(&[])
        }
    }

    pub fn failing(kind: TokenErrorKind, summary: &str) -> FakeTokens {
        FakeTokens {
            tokens: Vec::new(),
            failure: Some(TokenError {
                kind,
                summary: summary.to_string(),
                advice: Some("set [VMAIL] oauth-client-secret".to_string()),
            }),
            hangs: false,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The `force_refresh` flag of each call, in order.
    pub fn calls(&self) -> Vec<bool> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl TokenSource for FakeTokens {
    fn token(&self, force_refresh: bool) -> TokenFuture<'_> {
        let call = match self.calls.lock() {
            Ok(mut calls) => {
                calls.push(force_refresh);
                calls.len() - 1
            }
            Err(_) => 0,
        };
        let result = match (&self.failure, self.tokens.get(call).or(self.tokens.last())) {
            (Some(error), _) => Err(error.clone()),
            (None, Some(token)) => Ok(AccessToken {
                token: Secret::new(token.as_str()),
                expires_at: SystemTime::now() + Duration::from_secs(3600),
            }),
            (None, None) => Err(TokenError {
                kind: TokenErrorKind::Other,
                summary: "the fake has no tokens".to_string(),
                advice: None,
            }),
        };
        let hangs = self.hangs;
        Box::pin(async move {
            if hangs {
                std::future::pending::<()>().await;
            }
            result
        })
    }
}

/// Fault-server settings logging in with a token for [`MAILBOX`] (in clear:
/// the fault server has no TLS, so the test allows it explicitly).
pub fn settings(port: u16, auth_type: AuthType) -> SmtpSettings {
    let mut settings = super::settings(port);
    settings.auth_type = auth_type;
    settings.allow_plaintext_auth = true;
    settings.oauth = Some(oauth_settings(MAILBOX));
    settings
}

/// A fault server offering `extensions` that accepts the `accepted` tokens
/// and refuses any other with [`ERROR_JSON`], then `535 5.7.8`.
pub fn script(extensions: &[&str], accepted: &[&str]) -> Script {
    Script::new().extensions(extensions).oauth(
        accepted,
        ERROR_JSON,
        "535 5.7.8 Authentication failed",
    )
}

/// One session with `tokens` as its token source, sending
/// [`super::simple`] to `a@example.test`.
pub async fn send(settings: SmtpSettings, tokens: &Arc<FakeTokens>) -> SessionReport {
    Submitter::new(settings)
        .with_tokens(tokens.clone())
        .send(vec![super::simple(&["a@example.test"])])
        .await
}

/// How many AUTH commands the server received.
pub fn auth_count(commands: &[String]) -> usize {
    commands.iter().filter(|c| c.starts_with("AUTH")).count()
}

/// `[VMAIL] oauth-*` for `user`; the URLs are never used (the tests hand
/// tokens out themselves).
pub fn oauth_settings(user: &str) -> OAuthSettings {
    OAuthSettings {
        provider: OAuthProvider::Generic,
        grant: OAuthGrant::ClientCredentials,
        tenant: None,
        client_id: "vmail-test".to_string(),
        client_secret: Some(Secret::new("client-secret-never-shown")),
        key_file: None,
        user: user.to_string(),
        scope: "smtp".to_string(),
        token_url: "http://127.0.0.1:9/token".to_string(),
        device_url: None,
        ca_file: None,
    }
}

/// The server's `334` error JSON of RFC 7628 §3.2.2.
pub const ERROR_JSON: &str =
    r#"{"status":"401","schemes":"bearer","scope":"https://mail.example.test/smtp"}"#;

/// Every form in which a token must never be shown: clear, base64, and
/// both SASL responses in base64 (for [`MAILBOX`] and `port` on 127.0.0.1).
pub fn token_forms(token: &str, port: u16) -> Vec<String> {
    token_forms_for(token, MAILBOX, port)
}

pub fn token_forms_for(token: &str, user: &str, port: u16) -> Vec<String> {
    vec![
        token.to_string(),
        BASE64.encode(token),
        BASE64.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01")),
        BASE64.encode(format!(
            "n,a={user},\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {token}\x01\x01"
        )),
    ]
}

/// The transcript, the outcomes, the errors and their Debug forms hold no
/// token in any form, nor the client secret.
pub fn assert_no_token(report: &SessionReport, tokens: &[&str], port: u16) {
    assert_no_token_for(report, tokens, MAILBOX, port);
}

pub fn assert_no_token_for(report: &SessionReport, tokens: &[&str], user: &str, port: u16) {
    let shown = super::everything_shown(report);
    assert!(!shown.contains("client-secret-never-shown"), "{shown}");
    for token in tokens {
        for form in token_forms_for(token, user, port) {
            assert!(!shown.contains(&form), "`{form}` was shown in:\n{shown}");
        }
    }
}

/// The AUTH lines the server received, decoded: (mechanism, decoded
/// initial response).
pub fn auth_lines(commands: &[String]) -> Vec<(String, Vec<u8>)> {
    commands
        .iter()
        .filter(|c| c.to_ascii_uppercase().starts_with("AUTH "))
        .map(|c| {
            let mut words = c.split(' ').skip(1);
            let mechanism = words.next().unwrap_or("").to_string();
            let decoded = words
                .next()
                .and_then(|b| BASE64.decode(b).ok())
                .unwrap_or_default();
            (mechanism, decoded)
        })
        .collect()
}
