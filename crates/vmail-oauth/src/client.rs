//! [`OAuthClient`]: the daemon's one token source. It hands out the cached
//! access token while it holds, fetches a new one with the configured grant
//! 5 minutes before expiry (or when the server refused the cached one), and
//! makes one request however many sessions ask at once: the fetch runs under
//! an async mutex, and whoever waited behind it finds the new token.

use crate::cache::{
    ACCESS_TOKEN, CacheDir, CacheError, REFRESH_TOKEN, StoredAccess, StoredRefresh, from_unix, unix,
};
use crate::errors::{self, Context, Failure};
use crate::http::{Http, HttpError, TlsSetupError};
use crate::jwt;
use crate::status::{self, LastRefresh};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthType, ClientId, ClientSecret, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use vmail_config::secrets::Key;
use vmail_core::{
    AccessToken, OAuthGrant, OAuthSettings, Secret, TokenError, TokenErrorKind, TokenFuture,
    TokenSource,
};

/// A token is refreshed this long before it expires (or at half its
/// lifetime, for the short-lived tokens of tests), so that a session never
/// starts with a token that dies during its login.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// When the server gives no `expires_in`, the token is assumed to hold this
/// long (the usual lifetime at Microsoft and Google).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Where "now" comes from: the system clock, or a test's.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> SystemTime;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Why an [`OAuthClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot use the OAuth cache directory: {0}")]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// Fetches, caches and refreshes the access token for one [`OAuthSettings`].
/// Cheap to clone: clones share the cache and the single flight.
#[derive(Clone)]
pub struct OAuthClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OAuthSettings,
    cache: CacheDir,
    key: Key,
    http: Http,
    clock: Arc<dyn Clock>,
    /// Bumped by every successful fetch, so that a forced refresh can tell
    /// whether someone else fetched while it waited.
    generation: AtomicU64,
    /// Token requests made, successful and failed (vmaild's metrics).
    requests_ok: AtomicU64,
    requests_failed: AtomicU64,
    flight: tokio::sync::Mutex<Flight>,
}

#[derive(Default)]
struct Flight {
    /// The disk cache has been read (once per process).
    loaded: bool,
    current: Option<Cached>,
}

struct Cached {
    token: AccessToken,
    issued_at: SystemTime,
    generation: u64,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.settings;
        f.debug_struct("OAuthClient")
            .field("provider", &s.provider)
            .field("grant", &s.grant)
            .field("user", &s.user)
            .field("token_url", &s.token_url)
            .field("cache", &self.inner.cache.dir)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// A client for `settings`, caching in `cache_dir` (created 0700 when
    /// missing; the daemon passes `<spool>/oauth/`), sealing with `key` (the
    /// key file of `auth-rsp`). Nothing is fetched until a token is asked for.
    pub fn new(
        settings: OAuthSettings,
        cache_dir: &Path,
        key: Key,
    ) -> Result<OAuthClient, SetupError> {
        OAuthClient::with_clock(settings, cache_dir, key, Arc::new(SystemClock))
    }

    /// Like [`OAuthClient::new`], with the time taken from `clock` (tests
    /// move it past a token's refresh point without sleeping).
    pub fn with_clock(
        settings: OAuthSettings,
        cache_dir: &Path,
        key: Key,
        clock: Arc<dyn Clock>,
    ) -> Result<OAuthClient, SetupError> {
        let cache = CacheDir::open(cache_dir)?;
        let http = Http::new(settings.ca_file.as_deref())?;
        Ok(OAuthClient {
            inner: Arc::new(Inner {
                settings,
                cache,
                key,
                http,
                clock,
                generation: AtomicU64::new(0),
                requests_ok: AtomicU64::new(0),
                requests_failed: AtomicU64::new(0),
                flight: tokio::sync::Mutex::new(Flight::default()),
            }),
        })
    }

    pub fn settings(&self) -> &OAuthSettings {
        &self.inner.settings
    }

    pub fn cache_dir(&self) -> &Path {
        &self.inner.cache.dir
    }

    /// Requests to the token endpoint so far (successful, failed): new
    /// tokens and refreshes, not the tokens served from memory.
    pub fn token_requests(&self) -> (u64, u64) {
        let inner = &self.inner;
        (
            inner.requests_ok.load(Ordering::Relaxed),
            inner.requests_failed.load(Ordering::Relaxed),
        )
    }

    /// Whether `other` is a clone of this client (the same cache, the same
    /// single flight, the same counts).
    pub fn is_same(&self, other: &OAuthClient) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A token that holds for a while yet. `force_refresh`: the server
    /// refused the one handed out, so fetch anew, unless another caller
    /// already did while this one waited.
    pub async fn access_token(&self, force_refresh: bool) -> Result<AccessToken, TokenError> {
        let inner = &self.inner;
        let seen = inner.generation.load(Ordering::SeqCst);
        let mut flight = inner.flight.lock().await;
        if !flight.loaded {
            flight.loaded = true;
            flight.current = inner.load_cached();
        }
        let now = inner.clock.now();
        if let Some(cached) = &flight.current {
            let fresh = !refresh_due(cached, now);
            if fresh && (!force_refresh || cached.generation > seen) {
                return Ok(cached.token.clone());
            }
        }
        match inner.fetch(now).await {
            Ok(cached) => {
                let token = cached.token.clone();
                flight.current = Some(cached);
                Ok(token)
            }
            // A failed early refresh keeps the token that still holds: the
            // endpoint may be back before it expires.
            Err(error) => match &flight.current {
                Some(cached) if !force_refresh && now < cached.token.expires_at => {
                    tracing::warn!(
                        "OAuth token refresh failed, using the cached token until it expires: {}",
                        error.summary
                    );
                    Ok(cached.token.clone())
                }
                _ => Err(error),
            },
        }
    }
}

impl TokenSource for OAuthClient {
    fn token(&self, force_refresh: bool) -> TokenFuture<'_> {
        Box::pin(self.access_token(force_refresh))
    }
}

fn refresh_due(cached: &Cached, now: SystemTime) -> bool {
    let lifetime = cached
        .token
        .expires_at
        .duration_since(cached.issued_at)
        .unwrap_or(Duration::ZERO);
    let margin = REFRESH_MARGIN.min(lifetime / 2);
    now + margin >= cached.token.expires_at
}

/// What a token endpoint handed out.
pub(crate) struct Fetched {
    pub access: Secret,
    pub expires_in: Option<Duration>,
    pub refresh: Option<Secret>,
}

impl Fetched {
    pub(crate) fn from_response(response: &BasicTokenResponse) -> Fetched {
        Fetched {
            access: Secret::new(response.access_token().secret().as_str()),
            expires_in: response.expires_in(),
            refresh: response
                .refresh_token()
                .map(|r| Secret::new(r.secret().as_str())),
        }
    }
}

impl Inner {
    /// Fingerprint of what a cached access token was fetched for.
    fn for_settings(&self) -> String {
        let s = &self.settings;
        format!(
            "{}|{}|{}|{}|{}|{}",
            s.provider, s.grant, s.client_id, s.user, s.scope, s.token_url
        )
    }

    fn load_cached(&self) -> Option<Cached> {
        let stored: StoredAccess = match self.cache.read_sealed(ACCESS_TOKEN, &self.key) {
            Ok(stored) => stored?,
            Err(e) => {
                tracing::warn!("cannot read the cached OAuth token: {e}");
                return None;
            }
        };
        if stored.for_settings != self.for_settings() {
            return None;
        }
        Some(Cached {
            token: AccessToken {
                token: Secret::new(stored.token.as_str()),
                expires_at: from_unix(stored.expires_at),
            },
            issued_at: from_unix(stored.issued_at),
            generation: 0,
        })
    }

    /// One token request with the configured grant; the outcome is recorded
    /// in `status.json`, and a new token in the cache.
    async fn fetch(&self, now: SystemTime) -> Result<Cached, TokenError> {
        let grant = status::grant_name(self.settings.grant);
        let result = self.request(now).await;
        let fetched = match result {
            Ok(fetched) => fetched,
            Err(error) => {
                self.requests_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(grant = %grant, "OAuth token request failed: {}", error.summary);
                status::record(&self.cache, &LastRefresh::failed(now, &grant, &error));
                return Err(error);
            }
        };
        self.requests_ok.fetch_add(1, Ordering::Relaxed);
        let lifetime = fetched.expires_in.unwrap_or(DEFAULT_LIFETIME);
        // Whole seconds, as the cache stores it: a restarted daemon sees
        // the same expiry.
        let token = AccessToken {
            token: fetched.access,
            expires_at: from_unix(unix(now) + lifetime.as_secs()),
        };
        let stored = StoredAccess {
            token: token.token.expose().to_string(),
            expires_at: unix(token.expires_at),
            issued_at: unix(now),
            for_settings: self.for_settings(),
        };
        // The cache only saves requests: a token that cannot be cached is
        // still good to use.
        if let Err(e) = self.cache.write_sealed(ACCESS_TOKEN, &self.key, &stored) {
            tracing::warn!("cannot cache the OAuth token: {e}");
        }
        status::record(&self.cache, &LastRefresh::ok(now, &grant, token.expires_at));
        tracing::info!(
            grant = %grant,
            "OAuth token fetched, valid for {}s",
            lifetime.as_secs()
        );
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Cached {
            token,
            issued_at: now,
            generation,
        })
    }

    async fn request(&self, now: SystemTime) -> Result<Fetched, TokenError> {
        let s = &self.settings;
        match s.grant {
            OAuthGrant::ClientCredentials => {
                let client = oauth_client(s)?;
                let response = client
                    .exchange_client_credentials()
                    .add_scopes(scopes(&s.scope))
                    .request_async(&self.http)
                    .await;
                self.map(response.map(|r| Fetched::from_response(&r)), &[])
            }
            OAuthGrant::RefreshToken => self.refresh().await,
            OAuthGrant::ServiceAccount => {
                let key_file = s.key_file.as_deref().ok_or_else(|| TokenError {
                    kind: TokenErrorKind::NotConfigured,
                    summary: "oauth-grant = service-account, but oauth-key-file is not set"
                        .to_string(),
                    advice: Some("set oauth-key-file to the service account's JSON key".into()),
                })?;
                let assertion = jwt::assertion(key_file, &s.user, &s.token_url, &s.scope, now)?;
                let result = jwt_bearer(&self.http, &s.token_url, &assertion).await;
                self.map(result, &[assertion.expose()])
            }
        }
    }

    /// The refresh-token grant. A rotated refresh token is saved durably
    /// before the new access token is handed out: killed at any moment, the
    /// relay still holds a refresh token the server accepts (the old one
    /// until the rename, the new one after it).
    async fn refresh(&self) -> Result<Fetched, TokenError> {
        let s = &self.settings;
        let stored = self.stored_refresh()?;
        let client = oauth_client(s)?;
        let refresh = RefreshToken::new(stored.refresh_token.clone());
        let response = client
            .exchange_refresh_token(&refresh)
            .add_scopes(scopes(&s.scope))
            .request_async(&self.http)
            .await;
        let fetched = self.map(
            response.map(|r| Fetched::from_response(&r)),
            &[stored.refresh_token.as_str()],
        )?;
        if let Some(rotated) = &fetched.refresh
            && rotated.expose() != stored.refresh_token
        {
            save_refresh(&self.cache, &self.key, s, rotated)?;
        }
        Ok(fetched)
    }

    fn stored_refresh(&self) -> Result<StoredRefresh, TokenError> {
        let s = &self.settings;
        let not_configured = |summary: String| {
            TokenError {
            kind: TokenErrorKind::NotConfigured,
            summary,
            advice: Some(
                "run `vfxadmin oauth login` (oauth-grant = refresh-token) as the user vmaild runs as"
                    .to_string(),
            ),
        }
        };
        let stored: Option<StoredRefresh> = self
            .cache
            .read_sealed(REFRESH_TOKEN, &self.key)
            .map_err(|e| not_configured(format!("cannot read the stored refresh token: {e}")))?;
        let Some(stored) = stored else {
            return Err(not_configured(format!(
                "no refresh token is stored in {}",
                self.cache.dir.display()
            )));
        };
        if stored.client_id != s.client_id || stored.token_url != s.token_url {
            return Err(not_configured(
                "the stored refresh token was issued for another oauth-client-id or oauth-token-url"
                    .to_string(),
            ));
        }
        Ok(stored)
    }

    fn map<T>(
        &self,
        result: Result<T, oauth2::RequestTokenError<HttpError, BasicErrorResponse>>,
        sent: &[&str],
    ) -> Result<T, TokenError> {
        result.map_err(|e| {
            let mut scrub: Vec<&str> = sent.to_vec();
            if let Some(secret) = &self.settings.client_secret {
                scrub.push(secret.expose());
            }
            let cx = Context {
                token_url: &self.settings.token_url,
                grant: self.settings.grant,
                scrub: &scrub,
            };
            errors::token_error(Failure::from_request(e), &cx)
        })
    }
}

/// Stores a refresh token obtained elsewhere (sealed, durably), for the
/// refresh-token grant of `settings`: what `vfxadmin oauth login` does after
/// a device login, for a token an administrator already has.
pub fn store_refresh_token(
    settings: &OAuthSettings,
    cache_dir: &Path,
    key: &Key,
    refresh: &Secret,
) -> Result<(), TokenError> {
    let cache = CacheDir::open(cache_dir).map_err(|e| TokenError {
        kind: TokenErrorKind::NotConfigured,
        summary: format!("cannot use the OAuth cache directory: {e}"),
        advice: None,
    })?;
    save_refresh(&cache, key, settings, refresh)
}

/// Saves a refresh token sealed, durably (write, fsync, rename, fsync dir).
pub(crate) fn save_refresh(
    cache: &CacheDir,
    key: &Key,
    settings: &OAuthSettings,
    refresh: &Secret,
) -> Result<(), TokenError> {
    let stored = StoredRefresh {
        refresh_token: refresh.expose().to_string(),
        client_id: settings.client_id.clone(),
        token_url: settings.token_url.clone(),
    };
    cache
        .write_sealed(REFRESH_TOKEN, key, &stored)
        .map_err(|e| TokenError {
            kind: TokenErrorKind::NotConfigured,
            summary: format!("cannot save the new refresh token: {e}"),
            advice: Some("check that vmaild may write the spool's oauth/ directory".to_string()),
        })
}

pub(crate) fn scopes(scope: &str) -> Vec<Scope> {
    scope
        .split_whitespace()
        .map(|s| Scope::new(s.to_string()))
        .collect()
}

fn bad_url(url: &str) -> TokenError {
    TokenError {
        kind: TokenErrorKind::NotConfigured,
        summary: format!("\"{url}\" is not a URL"),
        advice: Some("check oauth-token-url and oauth-device-url".to_string()),
    }
}

/// The `oauth2` client for `settings`: the client id and secret go in the
/// request body (`client_secret_post`), which Microsoft, Google and most
/// servers accept.
pub(crate) fn oauth_client(
    settings: &OAuthSettings,
) -> Result<
    BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    TokenError,
> {
    let token_url =
        TokenUrl::new(settings.token_url.clone()).map_err(|_| bad_url(&settings.token_url))?;
    let mut client = BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url);
    if let Some(secret) = &settings.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
    }
    Ok(client)
}

/// RFC 7523 §2.1: the assertion as the grant. `oauth2` has no request type
/// for it, so the form is built here and the answer parsed with `oauth2`'s
/// own response types.
async fn jwt_bearer(
    http: &Http,
    token_url: &str,
    assertion: &Secret,
) -> Result<Fetched, oauth2::RequestTokenError<HttpError, BasicErrorResponse>> {
    use oauth2::RequestTokenError as E;
    let body = zeroize::Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", assertion.expose())
            .finish(),
    );
    let request = oauth2::http::Request::builder()
        .method(oauth2::http::Method::POST)
        .uri(token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body.as_bytes().to_vec())
        .map_err(|e| E::Other(e.to_string()))?;
    let response = http.call(request).await?;
    let body = response.body();
    if response.status() == oauth2::http::StatusCode::OK {
        let parsed: BasicTokenResponse =
            serde_json::from_slice(body).map_err(|_| E::Other("not a token response".into()))?;
        Ok(Fetched::from_response(&parsed))
    } else {
        let parsed: BasicErrorResponse =
            serde_json::from_slice(body).map_err(|_| E::Other("not an error response".into()))?;
        Err(E::ServerResponse(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(lifetime: u64) -> (Cached, SystemTime) {
        let issued = from_unix(1_000_000);
        let token = AccessToken {
            token: Secret::new("t"),
            expires_at: issued + Duration::from_secs(lifetime),
        };
        let cached = Cached {
            token,
            issued_at: issued,
            generation: 1,
        };
        (cached, issued)
    }

    #[test]
    fn an_hour_token_is_refreshed_five_minutes_before_expiry() {
        let (c, t0) = cached(3600);
        assert!(!refresh_due(&c, t0 + Duration::from_secs(3299)));
        assert!(refresh_due(&c, t0 + Duration::from_secs(3300)));
    }

    #[test]
    fn a_short_token_is_refreshed_at_half_its_lifetime() {
        let (c, t0) = cached(60);
        assert!(!refresh_due(&c, t0 + Duration::from_secs(29)));
        assert!(refresh_due(&c, t0 + Duration::from_secs(30)));
    }
}
