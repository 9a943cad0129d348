//! The one writer of the `vsisrv.ini` the `vmaild_*` and `oauth_*` tests
//! start vmaild on: capture mode, the fault server, a list of servers to
//! fail over between, or one port of the private Postfix. Each kind has
//! its defaults here; a test names only what differs, and a key it sets
//! replaces the default (a key set twice is a configuration error).

use std::path::{Path, PathBuf};
use vmail_testkit::servers::{TestServers, TestUser};

use super::daemon::Daemon;
use super::real::seal;

/// A `vsisrv.ini` to write into a test's folder, with its spool in
/// `spool/` beside it.
pub struct Ini {
    /// `[VMAIL]` keys and values, in the order written.
    defaults: Vec<(&'static str, String)>,
    /// Whether `key-file` names `vmail.key` in the ini's folder.
    key_file: bool,
    /// A login sealed with that key at [`Ini::write`]: auth type, user,
    /// password.
    login: Option<(String, String, String)>,
    /// More `[VMAIL]` lines, as given.
    extra: Vec<String>,
}

const HELO: (&str, &str) = ("helo-name", "vmail-test.example.test");
const FROM: (&str, &str) = ("from", "fax@example.test");

impl Ini {
    fn new(defaults: &[(&'static str, &str)], key_file: bool) -> Ini {
        Ini {
            defaults: defaults.iter().map(|&(k, v)| (k, v.to_string())).collect(),
            key_file,
            login: None,
            extra: Vec::new(),
        }
    }

    /// Capture mode: every message is written to `capture/`, no server.
    pub fn capture() -> Ini {
        Ini::new(&[("mail-server", "file:capture"), FROM], false)
    }

    /// The fault server on `port`: plain text, a 1 s timeout and retries
    /// after 1 to 2 s.
    pub fn fault(port: u16) -> Ini {
        let port = port.to_string();
        Ini::new(
            &[
                ("mail-server", "127.0.0.1"),
                ("mail-port", &port),
                ("tls", "none"),
                HELO,
                FROM,
                ("timeout", "1s"),
                ("retry-min", "1s"),
                ("retry-max", "2s"),
            ],
            true,
        )
    }

    /// `servers` (`host:port`) in order, plain text, a 2 s timeout and
    /// retries after 1 to 2 s.
    pub fn failover(servers: &[String]) -> Ini {
        Ini::new(
            &[
                ("mail-server", &servers.join(", ")),
                ("tls", "none"),
                HELO,
                FROM,
                ("timeout", "2s"),
                ("retry-min", "1s"),
                ("retry-max", "2s"),
            ],
            true,
        )
    }

    /// Plain SMTP to `port` of the private servers, trusting their
    /// throwaway CA (for a `tls` set later), a 10 s timeout, no login.
    pub fn plain(servers: &TestServers, port: u16) -> Ini {
        Ini::private(servers, port, "none")
    }

    /// STARTTLS to `port` of the private servers, no login yet.
    pub fn starttls(servers: &TestServers, port: u16) -> Ini {
        Ini::private(servers, port, "starttls")
    }

    /// The submission port with STARTTLS and AUTH PLAIN as the servers'
    /// main user: how most real deliveries go.
    pub fn submission(servers: &TestServers) -> Ini {
        Ini::starttls(servers, servers.submission_port).login("plain", &servers.user)
    }

    fn private(servers: &TestServers, port: u16, tls: &str) -> Ini {
        let port = port.to_string();
        let ca = servers.ca_cert.display().to_string();
        Ini::new(
            &[
                ("mail-server", &servers.host),
                ("mail-port", &port),
                ("tls", tls),
                ("ca-file", &ca),
                HELO,
                FROM,
                ("timeout", "10s"),
            ],
            true,
        )
    }

    /// Logs in with `auth_type` as `user`; the login is sealed with the
    /// key in the ini's folder, so the ini never holds the password in
    /// clear.
    pub fn login(mut self, auth_type: &str, user: &TestUser) -> Ini {
        self.login = Some((
            auth_type.to_string(),
            user.user.clone(),
            user.password.clone(),
        ));
        self
    }

    /// More `[VMAIL]` lines; a key among them replaces its default.
    pub fn with(mut self, lines: &str) -> Ini {
        self.extra.push(lines.to_string());
        self
    }

    /// Writes `dir/vsisrv.ini` (and, for a login, `dir/vmail.key`).
    pub fn write(&self, dir: &Path) -> PathBuf {
        let key_path = dir.join("vmail.key");
        let mut lines = self.defaults.clone();
        if self.key_file {
            lines.push(("key-file", key_path.display().to_string()));
        }
        if let Some((auth_type, user, password)) = &self.login {
            let delim = if password.contains('|') { "\u{1}" } else { "|" };
            let sealed = seal(&key_path, &format!("{user}{delim}{password}"));
            lines.push(("auth-type", auth_type.clone()));
            lines.push(("auth-delim", delim.to_string()));
            lines.push(("auth-rsp", sealed));
        }
        let extra = self.extra.join("\n");
        let mut text = String::from("[VMAIL]\n");
        for (key, value) in lines {
            let overridden = extra
                .lines()
                .any(|line| line.split('=').next().map(str::trim) == Some(key));
            if !overridden {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text.push_str(&extra);
        text.push_str("\n[VFXSCHED]\nspool = spool\ndebug = On\n");
        let ini = dir.join("vsisrv.ini");
        std::fs::write(&ini, text).unwrap();
        ini
    }

    /// Writes the ini into `dir` and starts vmaild on it.
    pub fn start(&self, dir: &Path) -> Daemon {
        self.write(dir);
        Daemon::start(dir)
    }
}
