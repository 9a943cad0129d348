//! What the OAuth2 scenarios share: a client registered at the token
//! service of `tests/run.sh` under its own id, a configuration for the
//! Postfix OAuth listener (Dovecot introspects every token there), and the
//! secrets scan that every scenario ends with: no access token, refresh
//! token, client secret, assertion or private key in any file of the run,
//! in clear or in base64.
#![allow(dead_code)]

use crate::common::daemon::{Daemon, wait_for};
use crate::common::ini::Ini;
use crate::common::real;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::path::{Path, PathBuf};
use vmail_testkit::oauth::{ClientSpec, TokenServiceClient, TokenServiceControl, unique_client_id};
use vmail_testkit::servers::TestServers;

/// The access and refresh tokens of the token service are opaque strings
/// with these prefixes, so a scan finds any of them without knowing it.
pub const TOKEN_PREFIXES: &[&str] = &["vmail-at-", "vmail-rt-"];

/// One scenario: its folder (config, key, spool, captured output), the
/// servers, the token service and the client registered for it.
pub struct Case {
    pub dir: tempfile::TempDir,
    pub servers: TestServers,
    pub service: TokenServiceClient,
    pub client_id: String,
    pub secret: Option<String>,
    /// More strings that must never be written (assertions, keys).
    pub more_secrets: Vec<String>,
}

impl Case {
    /// Registers `spec(client id, mailbox)` with a fresh secret when
    /// `with_secret`.
    pub fn new(tag: &str, with_secret: bool, spec: impl FnOnce(ClientSpec) -> ClientSpec) -> Case {
        let servers = real::servers();
        let service = TokenServiceClient::from_servers(&servers).unwrap();
        let client_id = unique_client_id(tag);
        let secret = with_secret.then(|| format!("sec-{}", unique_client_id("s")));
        let mut base = ClientSpec::new(&client_id, &servers.user.user);
        if let Some(secret) = &secret {
            base = base.with_secret(secret);
        }
        service.register_client(&spec(base)).unwrap();
        Case {
            dir: tempfile::tempdir().unwrap(),
            servers,
            service,
            client_id,
            secret,
            more_secrets: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn spool(&self) -> PathBuf {
        self.path().join("spool")
    }

    /// Writes the ini for the OAuth listener: generic provider, the token
    /// service's URLs, the mailbox of the test user, the client secret
    /// sealed, `debug = 2` (the transcript in every job log), and `extra`.
    pub fn write_config(&self, auth_type: &str, grant: &str, extra: &str) {
        let secret = match &self.secret {
            Some(secret) => format!(
                "oauth-client-secret = {}\n",
                real::seal(&self.path().join("vmail.key"), secret)
            ),
            None => String::new(),
        };
        let lines = format!(
            "auth-type = {auth_type}\n\
             oauth-provider = generic\n\
             oauth-grant = {grant}\n\
             oauth-client-id = {id}\n\
             {secret}\
             oauth-user = {user}\n\
             oauth-token-url = {token}\n\
             oauth-device-url = {device}\n\
             debug = 2\n\
             {extra}",
            id = self.client_id,
            user = self.servers.user.user,
            token = self.service.urls().token(),
            device = self.service.urls().device(),
        );
        Ini::starttls(&self.servers, self.servers.oauth_port)
            .with(&lines)
            .write(self.path());
    }

    /// Drops one message for the test user and returns its Message-ID.
    pub fn drop_message(&self, tag: &str) -> String {
        real::send(&self.spool(), &self.servers.user.user, tag, "Hello.\n")
    }

    /// Waits for the message in the Maildir.
    pub fn arrived(&self, id: &str, daemon: &Daemon) {
        if self
            .servers
            .wait_for_message(id, real::DELIVERY_WAIT)
            .is_none()
        {
            panic!(
                "{id} never arrived\n--- daemon log:\n{}\n{}",
                daemon.log(),
                self.servers.log_tails(30)
            );
        }
    }

    /// Waits until `n` jobs are in `sent/`.
    pub fn wait_sent(&self, n: usize, daemon: &Daemon) {
        let spool = self.spool();
        wait_for(
            &format!("{n} job(s) in sent/"),
            || real::jobs_in(&spool, "sent").len() >= n,
            || daemon.log(),
        );
    }

    /// The logs of every job in `folder`, joined.
    pub fn job_logs(&self, folder: &str) -> String {
        let spool = self.spool();
        real::jobs_in(&spool, folder)
            .iter()
            .map(|id| real::job_log(&spool, id))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Searches every file of the run (spool, logs, config, captured
    /// output) except the key file and `skip` for every secret.
    pub fn assert_no_secret_written(&self, skip: &[&Path]) {
        let key = self.path().join("vmail.key");
        let mut skipped: Vec<&Path> = vec![key.as_path()];
        skipped.extend_from_slice(skip);
        let mut needles: Vec<String> = TOKEN_PREFIXES.iter().map(|p| p.to_string()).collect();
        needles.extend(self.secret.iter().cloned());
        needles.extend(self.more_secrets.iter().cloned());
        needles.push("PRIVATE KEY".to_string());
        for (path, text) in real::all_text_under(self.path(), &skipped) {
            for needle in &needles {
                assert!(
                    !text.contains(needle.as_str()),
                    "`{needle}` written in clear in {}",
                    path.display()
                );
            }
            for decoded in base64_runs(&text) {
                for needle in &needles {
                    assert!(
                        !decoded.contains(needle.as_str()),
                        "`{needle}` written in base64 in {}",
                        path.display()
                    );
                }
            }
            // A JWT (an assertion) is three base64url parts starting with
            // a JSON header.
            assert!(
                !text.contains("eyJhbGciOi"),
                "a JWT written in {}",
                path.display()
            );
        }
    }
}

/// Every run of base64 characters of 12 or more, decoded (standard and URL
/// alphabets), lossily: an XOAUTH2 or OAUTHBEARER blob decodes to text
/// that holds the token.
pub fn base64_runs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    for run in text.split(|c: char| !is_b64(c)).filter(|r| r.len() >= 12) {
        for start in 0..4 {
            let Some(part) = run.get(start..) else {
                continue;
            };
            let trimmed = part.trim_end_matches('=');
            let usable = &trimmed[..trimmed.len() - trimmed.len() % 4];
            for decoded in [
                STANDARD.decode(usable).ok(),
                URL_SAFE_NO_PAD.decode(usable).ok(),
            ]
            .into_iter()
            .flatten()
            {
                out.push(String::from_utf8_lossy(&decoded).into_owned());
            }
        }
    }
    out
}

/// A fresh client id (for tests that register more than one client).
pub fn client_id(tag: &str) -> String {
    unique_client_id(tag)
}

/// The token service's counters of this case's client.
pub fn token_requests(case: &Case) -> u64 {
    case.service
        .counters(&case.client_id)
        .unwrap()
        .total_token_requests()
}

#[test]
fn the_scan_finds_a_token_in_an_xoauth2_blob() {
    let blob = STANDARD.encode("user=a@b\x01auth=Bearer vmail-at-0123abcd\x01\x01");
    let text = format!("12:00:00 C: AUTH XOAUTH2 {blob}\n");
    assert!(
        base64_runs(&text)
            .iter()
            .any(|d| d.contains("vmail-at-0123abcd"))
    );
}
