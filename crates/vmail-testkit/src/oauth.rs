//! An OAuth2 authorization server for tests: the token endpoint that vmail
//! fetches tokens from, and the introspection endpoint that the private
//! Dovecot asks whether a token presented with XOAUTH2 or OAUTHBEARER is
//! good. Real Microsoft 365 and Google cannot be reached from tests; this
//! service answers the way they do, and lets a test make it fail on demand.
//!
//! # Two ways to run it
//! - **The one `bash tests/run.sh` starts** (the binary
//!   `vmail-test-token-service`, HTTPS with a certificate of the test CA).
//!   Dovecot introspects against it, so a token only logs in at the OAuth
//!   submission port (`TestServers::oauth_port`) if it came from there.
//!   Reach it with [`TokenServiceClient::from_servers`]; its URL is
//!   `TestServers::token_service_url`, its CA `TestServers::ca_cert`.
//! - **In process**: [`TokenService::start`] (HTTPS on `127.0.0.1:0` with a
//!   throwaway CA, [`TokenService::ca_pem`]), stopped when dropped. For
//!   client tests that need no mail server; Dovecot does not know it.
//!
//! Both implement [`TokenServiceControl`], so a helper can take either.
//!
//! # A test's life
//! Tests of different files run in parallel against the one service: all
//! state is per client id, so each test registers its own client under a
//! [`unique_client_id`] and touches nothing else.
//! ```no_run
//! use std::time::Duration;
//! use vmail_testkit::oauth::{ClientSpec, Fault, Grant, TokenServiceClient, TokenServiceControl, unique_client_id};
//! use vmail_testkit::servers::TestServers;
//! # fn main() -> Result<(), vmail_testkit::oauth::ServiceError> {
//! let servers = TestServers::from_env();
//! let service = TokenServiceClient::from_servers(&servers)?;
//! let id = unique_client_id("xoauth2-cc");
//! service.register_client(
//!     &ClientSpec::new(&id, &servers.user.user)        // tokens log in as this mailbox
//!         .with_secret("s3cret")
//!         .with_grants(&[Grant::ClientCredentials])
//!         .with_token_lifetime(Duration::from_secs(30)),
//! )?;
//! // vmail's [VMAIL] oauth-token-url = service.urls().token(), ca-file = servers.ca_cert
//! let token = service.client_credentials(&id, "s3cret", None)?;   // or let vmail fetch it
//! service.expire_tokens(&id)?;                 // Dovecot now rejects it (334 + JSON, then 535)
//! service.set_fault(&id, &Fault::status(503).times(2))?;  // the next 2 token requests: 503
//! service.revoke_client(&id)?;                 // invalid_client, every token dead
//! let counters = service.counters(&id)?;      // token requests by grant, introspections
//! assert_eq!(counters.token_requests(Grant::ClientCredentials), 1);
//! # let _ = token; Ok(()) }
//! ```
//!
//! # Endpoints (all under [`ServiceUrls::base`], `https://127.0.0.1:PORT`)
//! - `POST /token` (form; client auth by `client_id`/`client_secret` in the
//!   body or HTTP Basic): `client_credentials`; `refresh_token` with
//!   rotation ([`Rotation`]: strict by default, the used token then answers
//!   `invalid_grant`); `urn:ietf:params:oauth:grant-type:jwt-bearer` (RS256
//!   signature against the registered key, `iss` = client id, `aud` = the
//!   token URL it was posted to, `exp`, `sub` = the mailbox: Google's
//!   service-account shape); `urn:ietf:params:oauth:grant-type:device_code`
//!   (`authorization_pending`, `slow_down`, `access_denied`,
//!   `expired_token`, then tokens with a refresh token). Errors are RFC 6749
//!   §5.2 JSON (`{"error":"invalid_client","error_description":"..."}`,
//!   401 for client authentication, else 400).
//! - `POST /{tenant}/oauth2/v2.0/token` and `.../devicecode`: the same with
//!   Entra ID's paths and errors (`AADSTS7000215` wrong secret,
//!   `AADSTS700016` unknown app or wrong tenant, `AADSTS90002` unknown
//!   tenant, `AADSTS7000222` revoked client, `AADSTS70011` scope, with
//!   `error_codes`, trace and correlation ids). Any other AADSTS answer
//!   (65001 consent) is a [`Fault::error`] away.
//! - `POST /device` (RFC 8628 §3.1): `device_code`, `user_code`,
//!   `verification_uri`, `expires_in`, `interval`.
//! - `POST /introspect` (RFC 7662, `token=`): `{"active":true,
//!   "username":"<mailbox>","email":...,"exp":...}` for a live token,
//!   `{"active":false}` for an unknown, expired or revoked one.
//! - `/admin/...`: the control endpoints behind [`TokenServiceControl`]
//!   (JSON bodies; 200 with a JSON object, or `{"error","id","message"}`
//!   with 400/404/409):
//!
//! | route                                        | does                        |
//! |----------------------------------------------|-----------------------------|
//! | `POST /admin/clients` ([`ClientSpec`])        | register                    |
//! | `POST /admin/clients/{id}/revoke`, `/reinstate` | client off / on again     |
//! | `POST /admin/clients/{id}/revoke_tokens`      | its tokens die              |
//! | `POST /admin/clients/{id}/expire_tokens`      | its access tokens expire    |
//! | `POST /admin/clients/{id}/refresh_token`      | `{"refresh_token": ...}`    |
//! | `POST /admin/clients/{id}/device/approve`, `/deny` (`{"user_code"?}`) | `{"decided": n}` |
//! | `POST /admin/clients/{id}/device/slow_down`   | next poll: `slow_down`      |
//! | `GET /admin/clients/{id}/device`              | `{"pending": [user codes]}` |
//! | `PUT`/`DELETE /admin/clients/{id}/fault` ([`Fault`]) | inject / clear       |
//! | `PUT /admin/clients/{id}/introspection` (`{"deny": bool}`) | Dovecot says no |
//! | `GET /admin/clients/{id}/counters`            | [`Counters`]                |
//! | `POST /admin/refuse_connections` (`{"for_secs": n}`) | listener closed    |
//! | `GET /admin/stats`                            | `{"unknown_introspections"}` |
//! | `GET /health`                                 | `ok`                        |
//!
//! Tokens are opaque (`vmail-at-<hex>`, `vmail-rt-<hex>`), so a secrets
//! scan can look for those prefixes in every file a test run leaves.
//!
//! # Limits
//! [`TokenServiceControl::refuse_connections`] closes the listening socket
//! for everyone: on the shared service it would fail other tests' token
//! requests, so there use [`Fault::drop_connection`] (per client), and keep
//! real refusal to an in-process service.

mod client;
mod error;
mod jwt;
mod registry;
mod server;
mod service;
#[cfg(test)]
mod tests;
mod types;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use client::TokenServiceClient;
pub use error::ServiceError;
pub use jwt::{
    AssertionClaims, OTHER_RSA_PRIVATE_KEY_PEM, TEST_RSA_PRIVATE_KEY_PEM, TEST_RSA_PUBLIC_KEY_PEM,
    sign_assertion,
};
pub use service::{ServiceOptions, TlsSetup, TokenService};
pub use types::{
    ClientSpec, Counters, DeviceAuthorization, Fault, FaultAnswer, Grant, Rotation, TokenResponse,
};

/// The control operations, on the in-process service and over HTTP alike.
/// Every one names the client it acts on; `UnknownClient` when it is not
/// registered.
pub trait TokenServiceControl {
    /// Registers a client; `DuplicateClient` when the id is taken.
    fn register_client(&self, spec: &ClientSpec) -> Result<(), ServiceError>;
    /// Its tokens die and its token requests answer `invalid_client`
    /// (Microsoft paths: `AADSTS7000222`) until reinstated.
    fn revoke_client(&self, client_id: &str) -> Result<(), ServiceError>;
    fn reinstate_client(&self, client_id: &str) -> Result<(), ServiceError>;
    /// Its access and refresh tokens die; it may get new ones.
    fn revoke_tokens(&self, client_id: &str) -> Result<(), ServiceError>;
    /// Its access tokens expire now (introspection: inactive); refresh
    /// tokens live on. Expiry without waiting for the lifetime.
    fn expire_tokens(&self, client_id: &str) -> Result<(), ServiceError>;
    /// A refresh token as if the mailbox's owner had consented.
    fn issue_refresh_token(&self, client_id: &str) -> Result<String, ServiceError>;
    /// Approves the pending device authorization with `user_code`, or all
    /// of the client's when `None`; how many. `NoPendingDevice` when none.
    fn approve_device(
        &self,
        client_id: &str,
        user_code: Option<&str>,
    ) -> Result<usize, ServiceError>;
    /// Like [`approve_device`](Self::approve_device); polls then get `access_denied`.
    fn deny_device(&self, client_id: &str, user_code: Option<&str>) -> Result<usize, ServiceError>;
    /// The user codes of its pending device authorizations.
    fn pending_user_codes(&self, client_id: &str) -> Result<Vec<String>, ServiceError>;
    /// Its next device poll answers `slow_down` (and the interval grows by
    /// 5 s, RFC 8628 §3.5). Polling faster than the interval does too.
    fn slow_down_next_poll(&self, client_id: &str) -> Result<(), ServiceError>;
    /// Its token and device requests get this answer (5xx, an error JSON,
    /// or a dropped connection), for a number of requests or a duration.
    fn set_fault(&self, client_id: &str, fault: &Fault) -> Result<(), ServiceError>;
    fn clear_fault(&self, client_id: &str) -> Result<(), ServiceError>;
    /// Introspection answers inactive for its tokens while they still look
    /// valid to the client: Dovecot rejects a token the client trusts.
    fn deny_introspection(&self, client_id: &str, deny: bool) -> Result<(), ServiceError>;
    fn counters(&self, client_id: &str) -> Result<Counters, ServiceError>;
    /// Closes the listening socket for `duration` (connections refused).
    /// Service-wide: see the module's Limits.
    fn refuse_connections(&self, duration: Duration) -> Result<(), ServiceError>;
}

/// The URLs of a running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrls {
    base: String,
}

impl ServiceUrls {
    pub fn new(base: String) -> ServiceUrls {
        ServiceUrls { base }
    }
    /// `https://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }
    pub fn token(&self) -> String {
        format!("{}/token", self.base)
    }
    pub fn device(&self) -> String {
        format!("{}/device", self.base)
    }
    pub fn introspection(&self) -> String {
        format!("{}/introspect", self.base)
    }
    /// Entra ID's token URL shape for `tenant`.
    pub fn microsoft_token(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base)
    }
    pub fn microsoft_device(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/devicecode", self.base)
    }
}

/// A client id no other test of this run uses: `prefix`, the process id, a
/// counter and the clock (parallel test binaries share the service).
pub fn unique_client_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}
