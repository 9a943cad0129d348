//! The token step of `vfxadmin check`, before the SMTP login: with the
//! `oauth-*` keys set, fetch a token the way vmaild does (same cache, same
//! key, so a rotated refresh token is kept for the daemon) and say whether
//! the endpoint answered, until when the token holds, or which key to
//! change. The session then logs in with that very token, so the AUTH
//! verdict that follows is about the OAuth mechanism at the server.

use super::Verdict;
use crate::oauth_cmd;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use vmail_config::Config;
use vmail_core::{AccessToken, OAuthSettings, TokenError, TokenFuture, TokenSource};
use vmail_oauth::OAuthClient;
use vmail_smtp::SmtpError;
use vmail_spool::format_time;

/// The token the step obtained, handed to the session; a forced refresh
/// (the server refused it) asks the endpoint again.
#[derive(Debug)]
pub struct Obtained {
    client: OAuthClient,
    first: Result<AccessToken, TokenError>,
}

impl TokenSource for Obtained {
    fn token(&self, force_refresh: bool) -> TokenFuture<'_> {
        if force_refresh {
            return Box::pin(self.client.access_token(true));
        }
        let first = self.first.clone();
        Box::pin(async move { first })
    }
}

/// Fetches a token (always from the endpoint: a cached one would prove
/// nothing about it), within `timeout`. The verdict, and the source for the
/// session when a client could be built.
pub async fn step(
    config: &Config,
    oauth: &OAuthSettings,
    timeout: Duration,
) -> (Verdict, Option<Arc<dyn TokenSource>>) {
    let cache_dir = oauth_cmd::cache_dir(config);
    let key = match vmail_config::secrets::load_or_create_key(&config.key_file) {
        Ok((key, _)) => key,
        Err(e) => {
            let text = format!(
                "OAuth2 token: cannot load the key file {} that seals the token cache: {e}; check \
                 [VMAIL] key-file",
                config.key_file.display()
            );
            return (Verdict::fail(text), None);
        }
    };
    let client = match OAuthClient::new(oauth.clone(), &cache_dir, key) {
        Ok(client) => client,
        Err(e) => return (Verdict::fail(format!("OAuth2 token: {e}")), None),
    };
    let first = match tokio::time::timeout(timeout, client.access_token(true)).await {
        Ok(result) => result,
        Err(_) => Err(TokenError {
            kind: vmail_core::TokenErrorKind::Unreachable,
            summary: format!(
                "the token endpoint did not answer within {} s",
                timeout.as_secs()
            ),
            advice: None,
        }),
    };
    oauth_cmd::give_to_spool_owner(&config.spool, &cache_dir);
    let verdict = match &first {
        Ok(token) => obtained(oauth, token, SystemTime::now()),
        Err(error) => failed(oauth, error),
    };
    (verdict, Some(Arc::new(Obtained { client, first })))
}

/// After a failed token step the session stops at AUTH for the same
/// reason: its last verdict would repeat the token step's, so it says only
/// that the login was not tried.
pub fn not_tried_without_token(report: &mut super::Report) {
    if !report.ended_without_token {
        return;
    }
    if let Some(last) = report.verdicts.last_mut() {
        *last = Verdict::fail(
            "AUTH: not tried without an OAuth2 token (the token step above says what to change)",
        );
    }
}

/// `[ ok ]`: the endpoint reached and the token's expiry.
pub fn obtained(oauth: &OAuthSettings, token: &AccessToken, now: SystemTime) -> Verdict {
    let left = token
        .expires_at
        .duration_since(now)
        .map(|d| format!("{} min", d.as_secs() / 60))
        .unwrap_or_else(|_| "already expired".to_string());
    Verdict::ok(format!(
        "OAuth2 token: obtained from {} ({} for {}), valid until {} ({left})",
        oauth.token_url,
        oauth.grant,
        oauth.user,
        format_time(token.expires_at)
    ))
}

/// `[FAIL]`: the endpoint's error decoded, and the key to change: the
/// token error's own advice, else the one vmail-smtp's table gives the
/// session error it would become (the words of the job log).
pub fn failed(oauth: &OAuthSettings, error: &TokenError) -> Verdict {
    let advice = error.advice.clone().or_else(|| {
        SmtpError::OAuthToken {
            mechanism: "XOAUTH2",
            error: error.clone(),
            rejected: None,
        }
        .advice()
        .map(|a| a.to_string())
    });
    let advice = advice.map(|a| format!("; {a}")).unwrap_or_default();
    Verdict::fail(format!(
        "OAuth2 token: none from {} ({} for {}): {}{advice}",
        oauth.token_url, oauth.grant, oauth.user, error.summary
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmail_core::{OAuthGrant, OAuthProvider, Secret, TokenErrorKind};

    fn settings() -> OAuthSettings {
        OAuthSettings {
            provider: OAuthProvider::Generic,
            grant: OAuthGrant::ClientCredentials,
            tenant: None,
            client_id: "app".into(),
            client_secret: None,
            key_file: None,
            user: "fax@example.com".into(),
            scope: String::new(),
            token_url: "https://login.example/token".into(),
            device_url: None,
            ca_file: None,
        }
    }

    #[test]
    fn the_verdicts_name_the_expiry_or_the_key() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = AccessToken {
            token: Secret::new("vmail-at-never-shown"),
            expires_at: now + Duration::from_secs(3599),
        };
        let ok = obtained(&settings(), &token, now);
        assert_eq!(
            ok.text,
            "OAuth2 token: obtained from https://login.example/token (client-credentials for \
             fax@example.com), valid until 2027-01-15T08:59:59Z (59 min)"
        );
        let error = TokenError {
            kind: TokenErrorKind::InvalidClient,
            summary: "the token endpoint refused the request: invalid_client".into(),
            advice: None,
        };
        let fail = failed(&settings(), &error);
        assert!(
            fail.text.starts_with(
                "OAuth2 token: none from https://login.example/token (client-credentials for \
                 fax@example.com): the token endpoint refused the request: invalid_client; "
            ),
            "{}",
            fail.text
        );
        assert!(fail.text.contains("oauth-client-secret"), "{}", fail.text);
    }
}
