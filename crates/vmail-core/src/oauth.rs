//! OAuth2 for SMTP: the settings `vmail-config` reads from `[VMAIL]
//! oauth-*`, the token an authorization server hands out, and the seam
//! between whoever fetches tokens (`vmail-oauth`) and the SMTP session that
//! spends them (`vmail-smtp`), so neither crate depends on the other.

use crate::secret::Secret;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::SystemTime;

/// Whose token endpoint and defaults (`[VMAIL] oauth-provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthProvider {
    /// Microsoft Entra ID (Exchange Online, Microsoft 365).
    Microsoft,
    /// Google (Gmail, Google Workspace).
    Google,
    /// Any OAuth2 server; the URLs must be given.
    Generic,
}

impl OAuthProvider {
    pub const ALLOWED: &'static str = "microsoft, google, generic";

    pub fn parse(value: &str) -> Option<OAuthProvider> {
        match value.trim().to_ascii_lowercase().as_str() {
            "microsoft" | "microsoft365" | "office365" | "azure" | "entra" => {
                Some(OAuthProvider::Microsoft)
            }
            "google" | "gmail" => Some(OAuthProvider::Google),
            "generic" => Some(OAuthProvider::Generic),
            _ => None,
        }
    }
}

impl fmt::Display for OAuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OAuthProvider::Microsoft => "microsoft",
            OAuthProvider::Google => "google",
            OAuthProvider::Generic => "generic",
        })
    }
}

/// How vmail obtains a token (`[VMAIL] oauth-grant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthGrant {
    /// RFC 6749 §4.4: the application's own id and secret (Microsoft's
    /// usual setup for a daemon that sends as a mailbox).
    ClientCredentials,
    /// RFC 6749 §6: a refresh token obtained once by `vfxadmin oauth login`
    /// (device authorization, RFC 8628) for a delegated mailbox.
    RefreshToken,
    /// RFC 7523: a JWT assertion signed with a service account's key, `sub`
    /// the mailbox (Google's domain-wide delegation).
    ServiceAccount,
}

impl OAuthGrant {
    pub const ALLOWED: &'static str = "client-credentials, refresh-token, service-account";

    pub fn parse(value: &str) -> Option<OAuthGrant> {
        match value.trim().to_ascii_lowercase().as_str() {
            "client-credentials" | "client_credentials" => Some(OAuthGrant::ClientCredentials),
            "refresh-token" | "refresh_token" => Some(OAuthGrant::RefreshToken),
            "service-account" | "service_account" | "jwt-bearer" => {
                Some(OAuthGrant::ServiceAccount)
            }
            _ => None,
        }
    }
}

impl fmt::Display for OAuthGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OAuthGrant::ClientCredentials => "client-credentials",
            OAuthGrant::RefreshToken => "refresh-token",
            OAuthGrant::ServiceAccount => "service-account",
        })
    }
}

/// Everything needed to obtain a token, validated, with the provider's
/// defaults already filled in (URLs, scope), so the fetcher never guesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    pub provider: OAuthProvider,
    pub grant: OAuthGrant,
    /// Microsoft's directory (tenant) id or domain; `None` elsewhere.
    pub tenant: Option<String>,
    pub client_id: String,
    /// `oauth-client-secret`, unsealed; `None` for grants that need none.
    pub client_secret: Option<Secret>,
    /// The service account's JSON key (`oauth-key-file`).
    pub key_file: Option<PathBuf>,
    /// The mailbox: `user=` of XOAUTH2, `a=` of OAUTHBEARER, `sub` of a
    /// service-account assertion.
    pub user: String,
    /// Space-separated scopes, as sent.
    pub scope: String,
    /// HTTPS (or http on a loopback address).
    pub token_url: String,
    /// The device authorization endpoint, for `vfxadmin oauth login`.
    pub device_url: Option<String>,
    /// Extra trust anchors for the token endpoint (`[VMAIL] ca-file`).
    pub ca_file: Option<PathBuf>,
}

/// An access token and when it stops working.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_at: SystemTime,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why no token could be had, sorted by what the administrator must do.
/// Every kind defers the jobs: an endpoint that is down comes back, and a
/// wrong secret is fixed while the jobs wait (`max-lifetime` still applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorKind {
    /// The endpoint could not be reached (DNS, connect, TLS, timeout).
    Unreachable,
    /// The endpoint answered 5xx or something that is not a token response.
    ServerError,
    /// `invalid_client`: wrong client id or secret, expired secret.
    InvalidClient,
    /// `invalid_grant`: refresh token revoked or expired, assertion refused.
    InvalidGrant,
    /// `unauthorized_client`: the app may not use this grant.
    UnauthorizedClient,
    /// `invalid_scope`.
    InvalidScope,
    /// `vfxadmin oauth login` has not been run (no refresh token stored),
    /// or the key file cannot be read.
    NotConfigured,
    /// Any other OAuth error code.
    Other,
}

/// A failed token request, safe to log: it never holds a token, a secret or
/// an assertion, only the server's error code and description (decoded,
/// for Microsoft's `AADSTS` numbers) and the key to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{summary}")]
pub struct TokenError {
    pub kind: TokenErrorKind,
    /// One line: what happened, with the server's error code.
    pub summary: String,
    /// What to do, naming the `[VMAIL]` key to fix where there is one.
    pub advice: Option<String>,
}

/// A boxed future, so the trait stays object safe without an async runtime
/// in this crate.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<AccessToken, TokenError>> + Send + 'a>>;

/// Hands out access tokens to SMTP sessions. The implementation caches and
/// refreshes; many sessions asking at once must cause one request.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token valid for a while yet. `force_refresh`: the server refused
    /// the cached one, so fetch a new one even if it has not expired.
    fn token(&self, force_refresh: bool) -> TokenFuture<'_>;
}
