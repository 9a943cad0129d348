//! What `vfxadmin oauth status` shows and `vfxadmin oauth forget` removes,
//! read from the cache directory without the key: the last refresh (when,
//! how it went, until when the token holds) and which tokens are stored.
//! Never a token.

use crate::cache::{ACCESS_TOKEN, CacheDir, CacheError, REFRESH_TOKEN, STATUS, from_unix, unix};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use vmail_core::{OAuthGrant, TokenError, TokenErrorKind};

/// The last token request, as `status.json` records it. Times are Unix
/// seconds, so that `--json` output is plain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRefresh {
    /// When the request was made.
    pub at: u64,
    /// The grant used (`client-credentials`, `refresh-token`,
    /// `service-account`, `device-code` for `vfxadmin oauth login`).
    pub grant: String,
    /// `ok`, or the error kind (`invalid_client`, `unreachable`, ...).
    pub result: String,
    /// Until when the token fetched holds; `None` after a failure.
    pub expires_at: Option<u64>,
    /// The error's summary and advice; `None` after a success.
    pub summary: Option<String>,
    pub advice: Option<String>,
}

impl LastRefresh {
    pub(crate) fn ok(at: SystemTime, grant: &str, expires_at: SystemTime) -> LastRefresh {
        LastRefresh {
            at: unix(at),
            grant: grant.to_string(),
            result: "ok".to_string(),
            expires_at: Some(unix(expires_at)),
            summary: None,
            advice: None,
        }
    }

    pub(crate) fn failed(at: SystemTime, grant: &str, error: &TokenError) -> LastRefresh {
        LastRefresh {
            at: unix(at),
            grant: grant.to_string(),
            result: kind_name(error.kind).to_string(),
            expires_at: None,
            summary: Some(error.summary.clone()),
            advice: error.advice.clone(),
        }
    }

    pub fn at_time(&self) -> SystemTime {
        from_unix(self.at)
    }

    pub fn expires_at_time(&self) -> Option<SystemTime> {
        self.expires_at.map(from_unix)
    }

    pub fn is_ok(&self) -> bool {
        self.result == "ok"
    }
}

/// The name a [`TokenErrorKind`] has in `status.json` and `--json`.
pub fn kind_name(kind: TokenErrorKind) -> &'static str {
    match kind {
        TokenErrorKind::Unreachable => "unreachable",
        TokenErrorKind::ServerError => "server_error",
        TokenErrorKind::InvalidClient => "invalid_client",
        TokenErrorKind::InvalidGrant => "invalid_grant",
        TokenErrorKind::UnauthorizedClient => "unauthorized_client",
        TokenErrorKind::InvalidScope => "invalid_scope",
        TokenErrorKind::NotConfigured => "not_configured",
        TokenErrorKind::Other => "other",
    }
}

pub(crate) fn grant_name(grant: OAuthGrant) -> String {
    grant.to_string()
}

/// What the cache directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub last_refresh: Option<LastRefresh>,
    /// A sealed access token is cached (it may have expired: see
    /// `last_refresh.expires_at`).
    pub access_token_cached: bool,
    /// A sealed refresh token is stored (`vfxadmin oauth login` was run).
    pub refresh_token_stored: bool,
}

/// Reads the cache directory's status. A directory that does not exist
/// reads as empty.
pub fn status(cache_dir: &Path) -> Result<Status, CacheError> {
    let last_refresh = match std::fs::read_to_string(cache_dir.join(STATUS)) {
        Ok(text) => serde_json::from_str(&text).ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(CacheError::Io {
                path: cache_dir.join(STATUS),
                error,
            });
        }
    };
    Ok(Status {
        last_refresh,
        access_token_cached: cache_dir.join(ACCESS_TOKEN).is_file(),
        refresh_token_stored: cache_dir.join(REFRESH_TOKEN).is_file(),
    })
}

/// Removes the cached access token, the stored refresh token and the
/// status, and returns the files removed. A running vmaild keeps the token
/// it holds in memory until it expires or the server refuses it.
pub fn forget(cache_dir: &Path) -> Result<Vec<PathBuf>, CacheError> {
    let cache = CacheDir {
        dir: cache_dir.to_path_buf(),
    };
    let mut removed = Vec::new();
    for name in [ACCESS_TOKEN, REFRESH_TOKEN, STATUS] {
        if cache.remove(name)? {
            removed.push(cache.path(name));
        }
    }
    if !removed.is_empty()
        && let Ok(dir) = std::fs::File::open(cache_dir)
    {
        let _ = dir.sync_all();
    }
    Ok(removed)
}

pub(crate) fn record(cache: &CacheDir, last: &LastRefresh) {
    let written = serde_json::to_string_pretty(last)
        .map_err(|e| e.to_string())
        .and_then(|json| {
            cache
                .write_atomic(STATUS, &format!("{json}\n"))
                .map_err(|e| e.to_string())
        });
    if let Err(why) = written {
        tracing::warn!("cannot record the OAuth token status: {why}");
    }
}
