//! `vfxadmin oauth login`: the device authorization grant (RFC 8628) that
//! gives vmail a refresh token for a delegated mailbox. [`start`] asks for
//! a user code and says where to enter it; [`DeviceLogin::poll`] asks the
//! token endpoint at the interval the server set (5 s more after each
//! `slow_down`) until the user approves, then stores the refresh token
//! sealed. Cancelled (the future dropped, Ctrl-C) or expired, it writes
//! nothing.

use crate::SetupError;
use crate::cache::{ACCESS_TOKEN, CacheDir, StoredAccess, unix};
use crate::client::{Fetched, oauth_client, save_refresh, scopes};
use crate::errors::{self, Context, Failure};
use crate::http::Http;
use crate::status::{self, LastRefresh};
use oauth2::StandardDeviceAuthorizationResponse;
use oauth2::{DeviceAuthorizationUrl, ErrorResponseType, StandardErrorResponse};
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, SystemTime};
use vmail_config::secrets::Key;
use vmail_core::{OAuthGrant, OAuthSettings, TokenError, TokenErrorKind};

/// A started device login: what to show the user, and what to poll with.
pub struct DeviceLogin {
    settings: OAuthSettings,
    http: Http,
    details: StandardDeviceAuthorizationResponse,
    started: SystemTime,
}

impl fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceLogin")
            .field("verification_uri", &self.verification_uri())
            .field("user_code", &self.user_code())
            .field("interval", &self.interval())
            .field("expires_in", &self.expires_in())
            .finish_non_exhaustive()
    }
}

impl DeviceLogin {
    /// Where the user goes (`https://microsoft.com/devicelogin`, ...).
    pub fn verification_uri(&self) -> &str {
        self.details.verification_uri().as_str()
    }

    /// The same with the code filled in, when the server offers one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.details
            .verification_uri_complete()
            .map(|u| u.secret().as_str())
    }

    /// The code the user types there (shown to the user, so not a secret).
    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }

    /// How long to wait between polls, as the server asked.
    pub fn interval(&self) -> Duration {
        self.details.interval()
    }

    /// How long the code holds.
    pub fn expires_in(&self) -> Duration {
        self.details.expires_in()
    }

    /// When the code stops working.
    pub fn expires_at(&self) -> SystemTime {
        self.started + self.expires_in()
    }

    /// Polls until approved, refused or expired, sleeping with tokio, then
    /// stores the refresh token in `cache_dir` sealed with `key`.
    pub async fn poll(self, cache_dir: &Path, key: &Key) -> Result<(), TokenError> {
        self.poll_with_sleep(cache_dir, key, tokio::time::sleep)
            .await
    }

    /// Like [`DeviceLogin::poll`] with the waits done by `sleep` (tests
    /// record the intervals instead of waiting them).
    pub async fn poll_with_sleep<S, F>(
        self,
        cache_dir: &Path,
        key: &Key,
        sleep: S,
    ) -> Result<(), TokenError>
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let cache = CacheDir::open(cache_dir).map_err(|e| local_error(e.to_string()))?;
        let client = oauth_client(&self.settings)?;
        // The first poll waits one interval too (RFC 8628 §3.5).
        sleep(self.interval()).await;
        let response = client
            .exchange_device_access_token(&self.details)
            .request_async(&self.http, &sleep, None)
            .await;
        let now = SystemTime::now();
        let fetched = match response {
            Ok(r) => Fetched::from_response(&r),
            // Refused or expired: nothing is written.
            Err(e) => return Err(self.error(Failure::from_request(e))),
        };
        let Some(refresh) = &fetched.refresh else {
            return Err(TokenError {
                kind: TokenErrorKind::InvalidScope,
                summary: "the token endpoint approved the login but gave no refresh token"
                    .to_string(),
                advice: Some(
                    "add offline_access to oauth-scope (Microsoft), then run `vfxadmin oauth login` again"
                        .to_string(),
                ),
            });
        };
        save_refresh(&cache, key, &self.settings, refresh)?;
        self.cache_access(&cache, key, &fetched, now);
        Ok(())
    }

    /// The access token that came with the approval saves the daemon one
    /// request; failing to cache it costs nothing else.
    fn cache_access(&self, cache: &CacheDir, key: &Key, fetched: &Fetched, now: SystemTime) {
        let expires_at = now + fetched.expires_in.unwrap_or(Duration::from_secs(3600));
        let s = &self.settings;
        let stored = StoredAccess {
            token: fetched.access.expose().to_string(),
            expires_at: unix(expires_at),
            issued_at: unix(now),
            for_settings: format!(
                "{}|{}|{}|{}|{}|{}",
                s.provider, s.grant, s.client_id, s.user, s.scope, s.token_url
            ),
        };
        if s.grant == OAuthGrant::RefreshToken {
            let _ = cache.write_sealed(ACCESS_TOKEN, key, &stored);
        }
        status::record(cache, &LastRefresh::ok(now, "device-code", expires_at));
    }

    fn error(&self, failure: Failure) -> TokenError {
        let secret = self.settings.client_secret.as_ref().map(|s| s.expose());
        let scrub: Vec<&str> = secret.into_iter().collect();
        let cx = Context {
            token_url: &self.settings.token_url,
            grant: OAuthGrant::RefreshToken,
            scrub: &scrub,
        };
        let mut error = errors::token_error(failure, &cx);
        if error.summary.contains(": expired_token") {
            error.advice =
                Some("the code was not entered in time: run `vfxadmin oauth login` again".into());
        } else if error.summary.contains(": access_denied") {
            error.advice = Some("the login was declined at the verification page: run `vfxadmin oauth login` again and approve it".into());
        }
        error
    }
}

/// Asks the device authorization endpoint for a user code.
pub async fn start(settings: &OAuthSettings) -> Result<DeviceLogin, TokenError> {
    let Some(device_url) = settings.device_url.clone() else {
        return Err(TokenError {
            kind: TokenErrorKind::NotConfigured,
            summary: "no device authorization endpoint is configured".to_string(),
            advice: Some(
                "set oauth-device-url (oauth-provider = generic has none by default)".to_string(),
            ),
        });
    };
    let http = Http::new(settings.ca_file.as_deref())
        .map_err(|e| local_error(SetupError::from(e).to_string()))?;
    let device_auth = DeviceAuthorizationUrl::new(device_url.clone()).map_err(|_| TokenError {
        kind: TokenErrorKind::NotConfigured,
        summary: format!("\"{device_url}\" is not a URL"),
        advice: Some("check oauth-device-url".to_string()),
    })?;
    let client = oauth_client(settings)?.set_device_authorization_url(device_auth);
    let details: Result<StandardDeviceAuthorizationResponse, _> = client
        .exchange_device_code()
        .add_scopes(scopes(&settings.scope))
        .request_async(&http)
        .await;
    let details = details.map_err(|e| {
        let secret = settings.client_secret.as_ref().map(|s| s.expose());
        let scrub: Vec<&str> = secret.into_iter().collect();
        let cx = Context {
            token_url: &device_url,
            grant: OAuthGrant::RefreshToken,
            scrub: &scrub,
        };
        errors::token_error(from_device_start(e), &cx)
    })?;
    Ok(DeviceLogin {
        settings: settings.clone(),
        http,
        details,
        started: SystemTime::now(),
    })
}

fn from_device_start<T>(
    e: oauth2::RequestTokenError<crate::http::HttpError, StandardErrorResponse<T>>,
) -> Failure
where
    T: ErrorResponseType + fmt::Display + 'static,
{
    Failure::from_request(e)
}

fn local_error(summary: String) -> TokenError {
    TokenError {
        kind: TokenErrorKind::NotConfigured,
        summary,
        advice: None,
    }
}
