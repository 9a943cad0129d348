//! OAuth2 access tokens for SMTP logins (XOAUTH2, OAUTHBEARER).
//!
//! [`OAuthClient`] implements [`vmail_core::TokenSource`] for the daemon:
//! it fetches a token with the configured grant (client credentials, a
//! stored refresh token, or a service account's signed assertion) when
//! first needed, caches it sealed in the spool's `oauth/` directory,
//! refreshes it 5 minutes before expiry, and makes one request however many
//! sessions ask at once. A rotated refresh token is saved durably before
//! the new access token is used.
//!
//! For `vfxadmin`: [`device_login`] (RFC 8628, `vfxadmin oauth login`),
//! [`status()`] and [`forget()`]. Every failure is a
//! [`vmail_core::TokenError`] that names the `[VMAIL]` key to fix and never
//! holds a token, a secret or an assertion.
//!
//! ```no_run
//! # async fn demo(settings: vmail_core::OAuthSettings, spool: &std::path::Path,
//! #               key: vmail_config::secrets::Key) -> Result<(), Box<dyn std::error::Error>> {
//! use vmail_core::TokenSource;
//! let client = vmail_oauth::OAuthClient::new(settings, &spool.join("oauth"), key)?;
//! let token = client.token(false).await?;
//! # let _ = token; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod cache;
mod client;
mod device;
mod errors;
mod http;
mod jwt;
mod status;

pub use cache::CacheError;

/// Where vmaild and `vfxadmin oauth` keep the sealed tokens of a spool:
/// `<spool>/oauth/`. One definition, so the two always agree.
pub fn cache_dir(spool: &std::path::Path) -> std::path::PathBuf {
    spool.join("oauth")
}
pub use client::{
    Clock, OAuthClient, REFRESH_MARGIN, SetupError, SystemClock, store_refresh_token,
};
pub use http::TlsSetupError;
pub use status::{LastRefresh, Status, forget, kind_name, status};

/// `vfxadmin oauth login`: the device authorization grant.
pub mod device_login {
    pub use crate::device::{DeviceLogin, start};
}

/// The files of the cache directory, for tests and tools that list it.
pub const CACHE_FILES: &[&str] = &[cache::ACCESS_TOKEN, cache::REFRESH_TOKEN, cache::STATUS];
