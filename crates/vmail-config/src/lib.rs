//! `vsisrv.ini` -> a validated [`Config`].
//!
//! Two layers: the raw layer says what each line is (section, `key = value`,
//! comment, blank, malformed) with its line number; the validator turns the
//! `[VMAIL]` and `[VFXSCHED]` entries into typed settings and collects every
//! problem on the way, each as `PATH:LINE: [SECTION] key: what is wrong (what
//! is allowed)`. [`secrets`] seals and opens `auth-rsp`/`pop-rsp`, and
//! [`edit`] changes one key while keeping every other byte of the file.
//!
//! ```no_run
//! let path = vmail_config::config_path(None);
//! match vmail_config::load(&path) {
//!     Ok(loaded) => {
//!         for warning in &loaded.warnings {
//!             eprintln!("warning: {warning}");
//!         }
//!         // use loaded.config
//!     }
//!     Err(problems) => {
//!         for warning in &problems.warnings {
//!             eprintln!("warning: {warning}");
//!         }
//!         eprintln!("{problems}");
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod diag;
pub mod edit;
mod invalid;
mod raw;
mod schema;
pub mod secrets;
mod validate;
mod values;

pub use diag::{ConfigErrors, Diagnostic};
pub use edit::{EditError, IniDocument};
pub use schema::{KNOWN_SECTIONS, is_known_key, is_secret_key};

use std::path::{Path, PathBuf};
use std::time::Duration;
use vmail_core::{DebugLevel, RetryPolicy, SmtpSettings};

/// Where a program finds its configuration: `--config PATH` when given, else
/// `$VSIFAX/lib/vsisrv.ini` when `VSIFAX` is set (and not empty), else
/// `/etc/vmail/vsisrv.ini`.
pub fn config_path(cli: Option<&Path>) -> PathBuf {
    config_path_from(cli, std::env::var_os("VSIFAX").as_deref())
}

fn config_path_from(cli: Option<&Path>, vsifax: Option<&std::ffi::OsStr>) -> PathBuf {
    match (cli, vsifax) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(root)) if !root.is_empty() => Path::new(root).join("lib").join("vsisrv.ini"),
        _ => PathBuf::from("/etc/vmail/vsisrv.ini"),
    }
}

/// Where delivered mail goes (`[VMAIL] mail-server`).
// One per process, built at start and on reload: boxing the SMTP settings
// would only make every match on it noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Over SMTP to a mail server.
    Smtp(SmtpSettings),
    /// `mail-server = file:DIR`: each message is written into DIR instead of
    /// being sent (for tests, demonstrations and dry runs).
    Capture { dir: PathBuf },
}

/// The validated configuration. Every path in it is absolute or relative to
/// the working directory: relative paths in the ini were resolved against
/// the ini file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The ini file it came from.
    pub path: PathBuf,
    /// `[VMAIL] mail-server` and the SMTP keys, or capture mode.
    pub delivery: Delivery,
    /// `[VMAIL] from`: the default envelope sender (`vmail@<hostname>`).
    pub from: String,
    /// `[VMAIL] admin-address`: where every recipient without a domain
    /// (`root`, what cron mails) goes; unset: such recipients take
    /// `local-domain`, or are refused without it.
    pub admin_address: Option<String>,
    /// `[VMAIL] local-domain`: appended to a sender name without a domain,
    /// and to a recipient name when `admin-address` is unset.
    pub local_domain: Option<String>,
    /// `[VMAIL] max-connections`: SMTP sessions at once (4).
    pub max_connections: usize,
    /// `[VMAIL] retry-min`, `retry-max`, `max-lifetime` (60s, 1h, 5d).
    pub retry: RetryPolicy,
    /// `[VMAIL] debug` 0, 1 or 2 (1).
    pub debug: DebugLevel,
    /// `[VMAIL] max-debug-log`: the size at which the daemon log is rotated (10M).
    pub max_debug_log: u64,
    /// `[VMAIL] max-message-size`: the largest job accepted at submission (25M).
    pub max_message_size: u64,
    /// `[VMAIL] fax-attach-as`: how `.job` drops attach fax TIFFs unless
    /// the job says (`attach-as`): as TIFF (the default) or as PDF.
    pub fax_attach_as: vmail_core::AttachAs,
    /// `[VFXSCHED] spool`: the spool directory (`/var/spool/vmail`).
    pub spool: PathBuf,
    /// `[VFXSCHED] debug`: log the scheduler's decisions (Off).
    pub sched_debug: bool,
    /// `[VFXSCHED] keep-sent`: how long `sent/` keeps delivered jobs (7d; 0
    /// deletes them at once).
    pub sent_retention: Duration,
    /// `[VMAIL] key-file`: the key that seals secrets (`vmail.key` beside the ini).
    pub key_file: PathBuf,
    /// `[VMAIL] metrics-listen`: where vmaild serves its Prometheus metrics
    /// (off when `None`).
    pub metrics_listen: Option<MetricsListen>,
}

/// Where the metrics endpoint listens: a TCP address (loopback unless
/// `metrics-allow-remote = yes`) or a Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsListen {
    Tcp(std::net::SocketAddr),
    Unix(PathBuf),
}

/// As the ini writes it: `127.0.0.1:9325`, `[::1]:9325` or the socket's path.
impl std::fmt::Display for MetricsListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsListen::Tcp(addr) => write!(f, "{addr}"),
            MetricsListen::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

impl Config {
    /// The SMTP settings, unless this is capture mode.
    pub fn smtp(&self) -> Option<&SmtpSettings> {
        match &self.delivery {
            Delivery::Smtp(settings) => Some(settings),
            Delivery::Capture { .. } => None,
        }
    }
}

/// A configuration that passed validation, and what deserves a look anyway.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Unknown keys and sections, risky settings, secrets stored in clear.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and validates `path`, reporting every problem at once. Sealed
/// secrets are decrypted with the key file; nothing is written.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(path, &text),
        Err(e) => Err(ConfigErrors {
            errors: vec![Diagnostic::file(
                path,
                format!("cannot read the configuration: {e}"),
            )],
            warnings: Vec::new(),
        }),
    }
}

/// Validates `text` as if it were the contents of `path` (which gives the
/// locations and the base of relative paths; the key file is read from disk
/// when a sealed value needs it). For checking an edit before writing it.
pub fn load_str(path: &Path, text: &str) -> Result<Loaded, ConfigErrors> {
    validate::validate(path, text)
}

/// A value a command-line flag takes in the configuration's own spelling,
/// refused: the text says what was given and what is accepted, as a
/// diagnostic of the ini does after `[SECTION] key: `.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct InvalidValue(invalid::Invalid);

/// A length of time as the configuration writes one (`45`, `30s`, `5m`,
/// `2h`, `3d`), for a flag that takes one, so that `--older-than 2h`
/// means what `max-lifetime = 2h` does.
pub fn parse_duration(value: &str) -> Result<std::time::Duration, InvalidValue> {
    values::duration(value).map_err(InvalidValue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn config_path_order_is_flag_then_vsifax_then_etc() {
        let flag = Path::new("/tmp/x.ini");
        assert_eq!(
            config_path_from(Some(flag), Some(OsStr::new("/opt/vsifax"))),
            flag
        );
        assert_eq!(
            config_path_from(None, Some(OsStr::new("/opt/vsifax"))),
            Path::new("/opt/vsifax/lib/vsisrv.ini")
        );
        assert_eq!(
            config_path_from(None, Some(OsStr::new(""))),
            Path::new("/etc/vmail/vsisrv.ini")
        );
        assert_eq!(
            config_path_from(None, None),
            Path::new("/etc/vmail/vsisrv.ini")
        );
    }
}
