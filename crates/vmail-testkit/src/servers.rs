//! The private Postfix and Dovecot that `tests/servers/start.sh` starts, as
//! described by the `servers.env` file it writes.
//!
//! `bash tests/run.sh` starts them and exports `VMAIL_TEST_SERVERS` (the path
//! of that file) before running `cargo test`; [`TestServers::from_env`]
//! reads it. Everything listens on 127.0.0.1:
//!
//! | field              | service                                              |
//! |--------------------|------------------------------------------------------|
//! | `smtp_plain_port`  | SMTP, no TLS, no AUTH; relays for 127.0.0.0/8        |
//! | `submission_port`  | SMTP, STARTTLS; AUTH only after TLS; auth'd relay    |
//! | `smtps_port`       | SMTP over implicit TLS, AUTH; auth'd relay           |
//! | `plainauth_port`   | SMTP, no TLS, AUTH in clear text; auth'd relay       |
//! | `pop3_port`        | POP3, USER/PASS without TLS                          |
//! | `pop3s_port`       | POP3 over implicit TLS                               |
//! | `oauth_port`       | SMTP, STARTTLS; AUTH only after TLS: LOGIN, XOAUTH2, |
//! |                    | OAUTHBEARER (a second Dovecot, `oauth2` passdb)      |
//! | `token_service_url`| HTTPS: the OAuth2 token service ([`crate::oauth`])   |
//! | `clientcert_port`  | SMTP, STARTTLS, asks for a client certificate; no    |
//! |                    | AUTH; relays only for a certificate of the test CA   |
//! |                    | (`client_cert`/`client_key`)                         |
//! | `selfsigned_port`  | SMTP, STARTTLS with a self-signed certificate        |
//! |                    | (`selfsigned_fingerprint`), TLS 1.2 at most; relays  |
//! |                    | for 127.0.0.0/8                                      |
//! | `utf8_port`        | SMTP like `smtp_plain_port`, `smtputf8_enable = yes` |
//! | `no8bitmime_port`  | SMTP like `smtp_plain_port`, offering neither        |
//! |                    | 8BITMIME nor SMTPUTF8 (DSN still on)                 |
//!
//! The first four SMTP listeners' AUTH offers PLAIN, LOGIN and CRAM-MD5
//! (Dovecot SASL). The OAuth listener looks like Microsoft 365's
//! `AUTH LOGIN XOAUTH2` (plus OAUTHBEARER): LOGIN is offered and always
//! refused (a tenant with password logins switched off), and a token logs in
//! only when the token service says, by introspection, that it is live and
//! issued for that mailbox. Mail accepted for
//! `example.test` and `jms1.net` lands in Maildirs under `maildir_root`
//! (`<domain>/<user>/new`, other local parts in `<domain>/catchall`);
//! [`TestServers::wait_for_message`] finds it by its Message-ID.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

/// The environment variable that names the `servers.env` file.
pub const SERVERS_ENV_VAR: &str = "VMAIL_TEST_SERVERS";

/// How often [`TestServers::wait_for_message`] looks at the Maildirs.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// A login known to Dovecot (and so to Postfix's SASL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    pub user: String,
    pub password: String,
}

/// The running test servers: where they listen and what they know.
#[derive(Debug, Clone)]
pub struct TestServers {
    /// The directory start.sh was given (configs, logs, mail, TLS material).
    pub dir: PathBuf,
    /// Always `127.0.0.1`.
    pub host: String,
    /// The name the server certificate is issued to (`localhost`; it also
    /// carries the IP address 127.0.0.1).
    pub tls_name: String,
    pub smtp_plain_port: u16,
    pub submission_port: u16,
    pub smtps_port: u16,
    pub plainauth_port: u16,
    pub pop3_port: u16,
    pub pop3s_port: u16,
    /// PEM of the throwaway CA that issued the servers' certificate.
    pub ca_cert: PathBuf,
    /// Root of the Maildirs Postfix delivers into (`<domain>/<user>/`).
    pub maildir_root: PathBuf,
    /// Postfix's `message_size_limit`, announced in the EHLO `SIZE` line.
    pub message_size_limit: u64,
    /// `jms1@jms1.net` / `not.my.real.password`.
    pub user: TestUser,
    /// `colon@example.test` / `pa:ss:wd`: colons break `user:password` splitting.
    pub colon_user: TestUser,
    /// `special@example.test`, a password with a space, `:`, `#`, `;`, `"`,
    /// a backslash, `$`, `%`, `&` and `!`.
    pub special_user: TestUser,
    /// A recipient that always gets `450 4.2.0 ... try later` at RCPT.
    pub defer_rcpt: String,
    /// A recipient that always gets `550 5.1.1 ... no such user` at RCPT.
    pub reject_rcpt: String,
    /// A recipient in a domain the servers do not serve (`554 5.7.1 Relay
    /// access denied` on the plain port).
    pub unknown_rcpt: String,
    pub postfix_pid: u32,
    pub dovecot_pid: u32,
    pub postfix_log: PathBuf,
    pub dovecot_log: PathBuf,
    /// SMTP with STARTTLS offering XOAUTH2 and OAUTHBEARER (and a LOGIN that
    /// always fails), relay for authenticated clients only.
    pub oauth_port: u16,
    /// `https://127.0.0.1:PORT` of the token service that Dovecot checks
    /// tokens against; certificate by the test CA (`ca_cert`). Drive it with
    /// [`crate::oauth::TokenServiceClient::from_servers`].
    pub token_service_url: String,
    pub token_service_pid: u32,
    pub token_service_log: PathBuf,
    /// The second Dovecot (SASL for `oauth_port` only).
    pub dovecot_oauth_pid: u32,
    pub dovecot_oauth_log: PathBuf,
    /// SMTP with STARTTLS that relays only for a client presenting a
    /// certificate the test CA signed (`smtpd_tls_ask_ccert`,
    /// `permit_tls_all_clientcerts`); everyone else gets `554 5.7.1` at RCPT.
    pub clientcert_port: u16,
    /// PEM of that client certificate (CN=vmail test client, test CA).
    pub client_cert: PathBuf,
    /// PEM of its private key, mode 0600.
    pub client_key: PathBuf,
    /// SMTP with STARTTLS whose certificate is self-signed (CN=localhost,
    /// not from the test CA) and TLS 1.2 at most; relays for 127.0.0.0/8.
    pub selfsigned_port: u16,
    /// `sha256:<hex>` of that certificate, computed by openssl.
    pub selfsigned_fingerprint: String,
    /// SMTP as `smtp_plain_port`, SMTPUTF8 said on explicitly (RFC 6531).
    pub utf8_port: u16,
    /// SMTP as `smtp_plain_port` without 8BITMIME
    /// (`smtpd_discard_ehlo_keywords = 8bitmime`) and without SMTPUTF8
    /// (`smtputf8_enable = no`: discarding 8BITMIME alone leaves it
    /// offered); DSN offered.
    pub no8bitmime_port: u16,
}

/// A Message-ID no other test and no earlier run uses (tag, pid, time),
/// so that [`TestServers::find_message`] finds this test's message in a
/// Maildir that every test shares.
pub fn message_id(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{tag}.{}.{nanos}@vmail-test.example.test",
        std::process::id()
    )
}

impl TestServers {
    /// Reads the file named by `VMAIL_TEST_SERVERS`.
    ///
    /// # Panics
    /// When the variable is unset or the file is missing or incomplete: these
    /// tests need the real servers, which `bash tests/run.sh` starts.
    pub fn from_env() -> TestServers {
        let Some(path) = std::env::var_os(SERVERS_ENV_VAR) else {
            panic!(
                "{SERVERS_ENV_VAR} is not set: this test needs the private Postfix and Dovecot; \
                 run the tests with `bash tests/run.sh`"
            );
        };
        match TestServers::from_file(Path::new(&path)) {
            Ok(servers) => servers,
            Err(error) => panic!("{error}; run the tests with `bash tests/run.sh`"),
        }
    }

    /// Reads a `servers.env` file written by `tests/servers/start.sh`.
    pub fn from_file(path: &Path) -> Result<TestServers, ServersFileError> {
        let text = fs::read_to_string(path).map_err(|source| ServersFileError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let env = Env::parse(path, &text)?;
        Ok(TestServers {
            dir: env.get("VMAIL_TEST_DIR")?.into(),
            host: env.get("VMAIL_TEST_HOST")?,
            tls_name: env.get("VMAIL_TEST_TLS_NAME")?,
            smtp_plain_port: env.number("VMAIL_TEST_SMTP_PLAIN_PORT")?,
            submission_port: env.number("VMAIL_TEST_SMTP_SUBMISSION_PORT")?,
            smtps_port: env.number("VMAIL_TEST_SMTPS_PORT")?,
            plainauth_port: env.number("VMAIL_TEST_SMTP_PLAINAUTH_PORT")?,
            pop3_port: env.number("VMAIL_TEST_POP3_PORT")?,
            pop3s_port: env.number("VMAIL_TEST_POP3S_PORT")?,
            ca_cert: env.get("VMAIL_TEST_CA_CERT")?.into(),
            maildir_root: env.get("VMAIL_TEST_MAILDIR_ROOT")?.into(),
            message_size_limit: env.number("VMAIL_TEST_MESSAGE_SIZE_LIMIT")?,
            user: env.user("VMAIL_TEST_USER", "VMAIL_TEST_PASSWORD")?,
            colon_user: env.user("VMAIL_TEST_COLON_USER", "VMAIL_TEST_COLON_PASSWORD")?,
            special_user: env.user("VMAIL_TEST_SPECIAL_USER", "VMAIL_TEST_SPECIAL_PASSWORD")?,
            defer_rcpt: env.get("VMAIL_TEST_DEFER_RCPT")?,
            reject_rcpt: env.get("VMAIL_TEST_REJECT_RCPT")?,
            unknown_rcpt: env.get("VMAIL_TEST_UNKNOWN_RCPT")?,
            postfix_pid: env.number("VMAIL_TEST_POSTFIX_PID")?,
            dovecot_pid: env.number("VMAIL_TEST_DOVECOT_PID")?,
            postfix_log: env.get("VMAIL_TEST_POSTFIX_LOG")?.into(),
            dovecot_log: env.get("VMAIL_TEST_DOVECOT_LOG")?.into(),
            oauth_port: env.number("VMAIL_TEST_SMTP_OAUTH_PORT")?,
            token_service_url: env.get("VMAIL_TEST_TOKEN_SERVICE_URL")?,
            token_service_pid: env.number("VMAIL_TEST_TOKEN_SERVICE_PID")?,
            token_service_log: env.get("VMAIL_TEST_TOKEN_SERVICE_LOG")?.into(),
            dovecot_oauth_pid: env.number("VMAIL_TEST_DOVECOT_OAUTH_PID")?,
            dovecot_oauth_log: env.get("VMAIL_TEST_DOVECOT_OAUTH_LOG")?.into(),
            clientcert_port: env.number("VMAIL_TEST_SMTP_CLIENTCERT_PORT")?,
            client_cert: env.get("VMAIL_TEST_CLIENT_CERT")?.into(),
            client_key: env.get("VMAIL_TEST_CLIENT_KEY")?.into(),
            selfsigned_port: env.number("VMAIL_TEST_SMTP_SELFSIGNED_PORT")?,
            selfsigned_fingerprint: env.get("VMAIL_TEST_SELFSIGNED_FINGERPRINT")?,
            utf8_port: env.number("VMAIL_TEST_SMTP_UTF8_PORT")?,
            no8bitmime_port: env.number("VMAIL_TEST_SMTP_NO8BITMIME_PORT")?,
        })
    }

    /// Every test user.
    pub fn users(&self) -> [&TestUser; 3] {
        [&self.user, &self.colon_user, &self.special_user]
    }

    /// `host:port`, for `TcpStream::connect`.
    pub fn addr(&self, port: u16) -> String {
        format!("{}:{port}", self.host)
    }

    /// The Maildir of one address served here (`jms1@jms1.net` ->
    /// `<maildir_root>/jms1.net/jms1`); unlisted local parts of a served
    /// domain share `<domain>/catchall`.
    pub fn maildir_of(&self, address: &str) -> PathBuf {
        let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        let (local, domain) = (local.to_ascii_lowercase(), domain.to_ascii_lowercase());
        let listed = self
            .users()
            .iter()
            .any(|u| u.user.eq_ignore_ascii_case(address));
        let mailbox = if listed { local.as_str() } else { "catchall" };
        self.maildir_root.join(domain).join(mailbox)
    }

    /// The delivered files (one per recipient mailbox) whose `Message-ID`
    /// header is `message_id` (with or without the angle brackets), as they
    /// are now. Does not wait.
    pub fn find_message(&self, message_id: &str) -> Vec<PathBuf> {
        let wanted = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let mut found: Vec<PathBuf> = maildir_files(&self.maildir_root)
            .into_iter()
            .filter(|file| has_message_id(file, wanted))
            .collect();
        found.sort();
        found
    }

    /// The delivered files whose bytes contain `needle`, as they are now
    /// (a delivery status notification has its own Message-ID: it is
    /// found by what it quotes, its Original-Envelope-Id). Does not wait.
    pub fn messages_containing(&self, needle: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = maildir_files(&self.maildir_root)
            .into_iter()
            .filter(|file| {
                fs::read(file).is_ok_and(|bytes| {
                    bytes
                        .windows(needle.len().max(1))
                        .any(|w| w == needle.as_bytes())
                })
            })
            .collect();
        found.sort();
        found
    }

    /// Waits up to `timeout` for a message with this Message-ID to be
    /// delivered into any Maildir, and returns its path (the first one, when
    /// it went to several mailboxes). `None` when the time is up.
    pub fn wait_for_message(&self, message_id: &str, timeout: Duration) -> Option<PathBuf> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(path) = self.find_message(message_id).into_iter().next() {
                return Some(path);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
    }

    /// The bytes of the message with this Message-ID as Postfix delivered
    /// it (with its Return-Path, Delivered-To and Received headers), waiting
    /// up to `timeout` for it.
    pub fn delivered_message(&self, message_id: &str, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let path = self.wait_for_message(message_id, remaining)?;
            // POP3 may move it from new/ to cur/ in between: look again.
            if let Ok(bytes) = fs::read(&path) {
                return Some(bytes);
            }
        }
    }

    /// The last `lines` lines of the Postfix, Dovecot and token service logs, for the
    /// message of a failed assertion.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for log in [
            &self.postfix_log,
            &self.dovecot_log,
            &self.dovecot_oauth_log,
            &self.token_service_log,
        ] {
            let text = fs::read_to_string(log).unwrap_or_else(|e| format!("(unreadable: {e})\n"));
            let all: Vec<&str> = text.lines().collect();
            let _ = writeln!(out, "--- last lines of {}:", log.display());
            for line in &all[all.len().saturating_sub(lines)..] {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }
}

/// What is wrong with a `servers.env` file.
#[derive(Debug, thiserror::Error)]
pub enum ServersFileError {
    #[error("cannot read the test servers file {} ({SERVERS_ENV_VAR}): {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: not KEY=VALUE: {text}", path.display())]
    NotKeyValue {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("{}: no {key}", path.display())]
    Missing { path: PathBuf, key: String },
    #[error("{}: {key}={value} is not a number", path.display())]
    NotANumber {
        path: PathBuf,
        key: String,
        value: String,
    },
}

/// The KEY=VALUE lines of `servers.env`; values may be wrapped in single
/// quotes (start.sh quotes every string; none holds a single quote).
struct Env<'a> {
    path: &'a Path,
    values: HashMap<String, String>,
}

impl<'a> Env<'a> {
    fn parse(path: &'a Path, text: &str) -> Result<Env<'a>, ServersFileError> {
        let mut values = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ServersFileError::NotKeyValue {
                    path: path.to_path_buf(),
                    line: index + 1,
                    text: line.to_string(),
                });
            };
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(value);
            values.insert(key.to_owned(), value.to_owned());
        }
        Ok(Env { path, values })
    }

    fn get(&self, key: &str) -> Result<String, ServersFileError> {
        self.values
            .get(key)
            .cloned()
            .ok_or_else(|| ServersFileError::Missing {
                path: self.path.to_path_buf(),
                key: key.to_string(),
            })
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<T, ServersFileError> {
        let value = self.get(key)?;
        value.parse().map_err(|_| ServersFileError::NotANumber {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            value,
        })
    }

    fn user(&self, user_key: &str, password_key: &str) -> Result<TestUser, ServersFileError> {
        Ok(TestUser {
            user: self.get(user_key)?,
            password: self.get(password_key)?,
        })
    }
}

/// Every file in `<root>/<domain>/<mailbox>/{new,cur}/`.
fn maildir_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for domain in subdirectories(root) {
        for mailbox in subdirectories(&domain) {
            for sub in ["new", "cur"] {
                let Ok(entries) = fs::read_dir(mailbox.join(sub)) else {
                    continue;
                };
                files.extend(entries.flatten().map(|entry| entry.path()));
            }
        }
    }
    files
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.path())
        .collect()
}

/// Whether the header section of this file has `Message-ID: <wanted>`
/// (header name in any case, folded or not). A file that vanished (moved
/// to cur/ meanwhile) does not match.
fn has_message_id(file: &Path, wanted: &str) -> bool {
    let Ok(bytes) = fs::read(file) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut header = String::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            header.push_str(line); // a folded continuation line
            continue;
        }
        if message_id_matches(&header, wanted) {
            return true;
        }
        header = line.to_owned();
    }
    message_id_matches(&header, wanted)
}

fn message_id_matches(header: &str, wanted: &str) -> bool {
    let Some((name, value)) = header.split_once(':') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("message-id")
        && value.trim().trim_start_matches('<').trim_end_matches('>') == wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_found_in_any_case_and_folded() {
        assert!(message_id_matches("Message-ID: <a.b@c>", "a.b@c"));
        assert!(message_id_matches("message-id:<a.b@c>", "a.b@c"));
        assert!(message_id_matches("Message-Id:  <a.b@c>  ", "a.b@c"));
        assert!(!message_id_matches("Message-ID: <a.b@cd>", "a.b@c"));
        assert!(!message_id_matches("In-Reply-To: <a.b@c>", "a.b@c"));
        assert!(!message_id_matches("X-Message-ID: <a.b@c>", "a.b@c"));
    }

    #[test]
    fn header_section_only_and_folding() -> Result<(), std::io::Error> {
        let dir = std::env::temp_dir().join(format!("vmail-testkit-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let folded = dir.join("folded");
        fs::write(
            &folded,
            "Subject: x\r\nMessage-ID:\r\n <id@x>\r\n\r\nbody\r\n",
        )?;
        let in_body = dir.join("in-body");
        fs::write(&in_body, "Subject: x\r\n\r\nMessage-ID: <id@x>\r\n")?;
        let found = has_message_id(&folded, "id@x");
        let not_found = has_message_id(&in_body, "id@x");
        fs::remove_dir_all(&dir)?;
        assert!(found);
        assert!(!not_found);
        Ok(())
    }

    #[test]
    fn env_values_lose_their_quotes() -> Result<(), ServersFileError> {
        let text = "# comment\nA='p@ss w0rd:#;\"x\"\\$%&!'\nB=12\n\nC=''\n";
        let env = Env::parse(Path::new("servers.env"), text)?;
        assert_eq!(env.get("A")?, "p@ss w0rd:#;\"x\"\\$%&!");
        assert_eq!(env.number::<u16>("B")?, 12);
        assert_eq!(env.get("C")?, "");
        assert_eq!(
            env.get("D").map_err(|e| e.to_string()).err().as_deref(),
            Some("servers.env: no D")
        );
        Ok(())
    }
}
