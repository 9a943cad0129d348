//! The cache directory (`<spool>/oauth/`, mode 0700): the access token and
//! the refresh token, each sealed with the key that seals `auth-rsp`
//! (AES-256-GCM, `enc:v1:`), and `status.json`, the last refresh in clear
//! (it holds no secret). Every file is 0600 and written the one crash-safe
//! way: temp file in the same directory, fsync, rename, fsync the directory.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vmail_config::secrets::{self, Key};
use vmail_core::Secret;
use zeroize::Zeroizing;

pub(crate) const ACCESS_TOKEN: &str = "access-token";
pub(crate) const REFRESH_TOKEN: &str = "refresh-token";
pub(crate) const STATUS: &str = "status.json";

/// A cache file that cannot be read or written. Never holds its contents.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },
    #[error("{}: cannot be sealed", path.display())]
    Seal { path: PathBuf },
}

#[derive(Debug, Clone)]
pub(crate) struct CacheDir {
    pub dir: PathBuf,
}

/// The sealed access token's contents. `for_settings` ties it to the
/// settings it was fetched with, so a changed client id, mailbox, scope or
/// endpoint is never served an old token.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredAccess {
    pub token: String,
    pub expires_at: u64,
    pub issued_at: u64,
    pub for_settings: String,
}

/// The sealed refresh token, with the client it was issued to.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredRefresh {
    pub refresh_token: String,
    pub client_id: String,
    pub token_url: String,
}

impl CacheDir {
    /// Creates the directory (0700) when missing and takes group and other
    /// access away when it has any.
    pub(crate) fn open(dir: &Path) -> Result<CacheDir, CacheError> {
        let io_err = |error| CacheError::Io {
            path: dir.to_path_buf(),
            error,
        };
        match fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(dir)
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(e)),
        }
        let mode = fs::metadata(dir).map_err(io_err)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err)?;
        }
        Ok(CacheDir {
            dir: dir.to_path_buf(),
        })
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `text` as `name`, crash-safe: a reader sees the old file or
    /// the new one, and once this returns the new one survives a crash.
    pub(crate) fn write_atomic(&self, name: &str, text: &str) -> Result<(), CacheError> {
        let path = self.path(name);
        let tmp = self.dir.join(format!(".{name}.tmp.{}", std::process::id()));
        let io_err = |error| CacheError::Io {
            path: path.clone(),
            error,
        };
        let write = || -> io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(e)
        })
    }

    /// Seals `value` (as JSON) and writes it as `name`.
    pub(crate) fn write_sealed<T: Serialize>(
        &self,
        name: &str,
        key: &Key,
        value: &T,
    ) -> Result<(), CacheError> {
        let seal_err = || CacheError::Seal {
            path: self.path(name),
        };
        let json = Zeroizing::new(serde_json::to_string(value).map_err(|_| seal_err())?);
        let sealed = secrets::seal(key, &json).map_err(|_| seal_err())?;
        self.write_atomic(name, &format!("{sealed}\n"))
    }

    /// Reads and opens `name`. `Ok(None)` when it does not exist;
    /// a file that cannot be opened (another key, damaged) is treated as
    /// absent too, with a warning, since a token can always be fetched anew.
    pub(crate) fn read_sealed<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        key: &Key,
    ) -> Result<Option<T>, CacheError> {
        let path = self.path(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(CacheError::Io { path, error }),
        };
        let opened: Option<Secret> = secrets::open(key, text.trim()).ok();
        let value = opened.and_then(|plain| serde_json::from_str(plain.expose()).ok());
        if value.is_none() {
            tracing::warn!(
                path = %path.display(),
                "cannot open the cached OAuth token (sealed with another key, or damaged); ignoring it"
            );
        }
        Ok(value)
    }

    pub(crate) fn remove(&self, name: &str) -> Result<bool, CacheError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(CacheError::Io { path, error }),
        }
    }
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}
