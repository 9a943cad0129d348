//! `vfxadmin oauth` and the token step of `vfxadmin check`, against the
//! token service and the Postfix OAuth listener of `bash tests/run.sh`:
//! - check with client credentials: `[ ok ]` token with its expiry, then
//!   AUTH XOAUTH2 accepted; with the client revoked: `[FAIL]` naming
//!   oauth-client-id and oauth-client-secret, exit 1;
//! - `oauth login` pending -> slow_down -> approved: the code printed, the
//!   refresh token stored sealed, `status` says so (never a token), the real
//!   vmaild delivers with it, `forget` removes it; Ctrl-C while pending
//!   stores nothing.
//!
//! Every command's output is kept in the case's folder, and every file of
//! it is searched for tokens, the client secret and their base64.
use crate::common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Run, bin_path, run_in, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vmail_testkit::oauth::{
    ClientSpec, Grant, TokenServiceClient, TokenServiceControl, unique_client_id,
};
use vmail_testkit::servers::TestServers;

struct Case {
    dir: tempfile::TempDir,
    servers: TestServers,
    service: TokenServiceClient,
    client_id: String,
    secret: Option<String>,
    runs: usize,
}

impl Case {
    fn new(tag: &str, secret: bool, spec: impl FnOnce(ClientSpec) -> ClientSpec) -> Case {
        let servers = TestServers::from_env();
        let service = TokenServiceClient::from_servers(&servers).unwrap();
        let client_id = unique_client_id(tag);
        let secret = secret.then(|| format!("sec-{}", unique_client_id("s")));
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
            runs: 0,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ini(&self) -> PathBuf {
        self.path().join("vsisrv.ini")
    }

    fn key(&self) -> PathBuf {
        self.path().join("vmail.key")
    }

    fn write_config(&self, grant: &str) {
        let secret = match &self.secret {
            Some(secret) => {
                let (key, _) = vmail_config::secrets::load_or_create_key(&self.key()).unwrap();
                format!(
                    "oauth-client-secret = {}\n",
                    vmail_config::secrets::seal(&key, secret).unwrap()
                )
            }
            None => String::new(),
        };
        let text = format!(
            "[VMAIL]\nmail-server = {host}\nmail-port = {port}\ntls = starttls\nca-file = {ca}\n\
             helo-name = vmail-test.example.test\nfrom = fax@example.test\ntimeout = 10s\n\
             key-file = {key}\nauth-type = xoauth2\noauth-provider = generic\n\
             oauth-grant = {grant}\noauth-client-id = {id}\n{secret}oauth-user = {user}\n\
             oauth-token-url = {token}\noauth-device-url = {device}\ndebug = 2\n\
             [VFXSCHED]\nspool = spool\ndebug = On\n",
            host = self.servers.host,
            port = self.servers.oauth_port,
            ca = self.servers.ca_cert.display(),
            key = self.key().display(),
            id = self.client_id,
            user = self.servers.user.user,
            token = self.service.urls().token(),
            device = self.service.urls().device(),
        );
        std::fs::write(self.ini(), text).unwrap();
    }

    /// `vfxadmin -c vsisrv.ini ARGS`, its output kept in the case folder.
    fn vfxadmin(&mut self, args: &[&str]) -> Run {
        let ini = self.ini();
        let mut all = vec!["-c", ini.to_str().unwrap()];
        all.extend_from_slice(args);
        let run = run_in(self.path(), "vfxadmin", &all, b"", &[]);
        self.keep(&run);
        run
    }

    fn keep(&mut self, run: &Run) {
        self.runs += 1;
        let out = self.path().join("output");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(format!("{}.stdout", self.runs)), &run.stdout).unwrap();
        std::fs::write(out.join(format!("{}.stderr", self.runs)), &run.stderr).unwrap();
    }

    fn token_requests(&self) -> u64 {
        self.service
            .counters(&self.client_id)
            .unwrap()
            .total_token_requests()
    }

    /// No token (the service's are `vmail-at-`/`vmail-rt-`), no client
    /// secret, in clear or base64, in any file but the key.
    fn assert_no_secret_written(&self) {
        let mut needles = vec!["vmail-at-".to_string(), "vmail-rt-".to_string()];
        needles.extend(self.secret.iter().cloned());
        let key = self.key();
        for (path, text) in files_under(self.path()) {
            if path == key {
                continue;
            }
            for decoded in std::iter::once(text.clone()).chain(base64_runs(&text)) {
                for needle in &needles {
                    assert!(
                        !decoded.contains(needle.as_str()),
                        "`{needle}` written in {}",
                        path.display()
                    );
                }
            }
        }
    }
}

fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                found.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    found
}

fn base64_runs(text: &str) -> Vec<String> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    let mut out = Vec::new();
    for run in text.split(|c: char| !is_b64(c)).filter(|r| r.len() >= 12) {
        for start in 0..4 {
            let Some(part) = run.get(start..) else {
                continue;
            };
            let part = part.trim_end_matches('=');
            let usable = &part[..part.len() - part.len() % 4];
            for decoded in [STANDARD.decode(usable), URL_SAFE_NO_PAD.decode(usable)]
                .into_iter()
                .flatten()
            {
                out.push(String::from_utf8_lossy(&decoded).into_owned());
            }
        }
    }
    out
}

fn verdicts(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("[ ok ]") || l.starts_with("[warn]") || l.starts_with("[FAIL]"))
        .collect()
}

#[test]
fn check_shows_the_token_step_then_the_oauth_login() {
    let mut case = Case::new("check-cc", true, |s| {
        s.with_grants(&[Grant::ClientCredentials])
    });
    case.write_config("client-credentials");
    let run = case.vfxadmin(&["check"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let verdicts = verdicts(&run);
    let token = verdicts.iter().position(|v| {
        v.starts_with("[ ok ] OAuth2 token: obtained from ") && v.contains("valid until")
    });
    let login = verdicts
        .iter()
        .position(|v| v.starts_with("[ ok ] AUTH XOAUTH2: login accepted (235"));
    assert!(
        matches!((token, login), (Some(t), Some(l)) if t < l),
        "the token verdict, then the login:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("C: AUTH XOAUTH2 <redacted>"),
        "{}",
        run.stdout
    );
    assert_eq!(case.token_requests(), 1, "one token for the whole check");
    let json = case.vfxadmin(&["oauth", "status", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["grant"], "client-credentials");
    assert_eq!(value["mailbox"], case.servers.user.user.as_str());
    assert_eq!(value["access_token_cached"], true);
    assert_eq!(value["last_refresh"]["result"], "ok");
    assert!(value["token_expires_at"].is_string(), "{value}");
    case.assert_no_secret_written();
}

#[test]
fn check_with_a_revoked_client_fails_at_the_token_and_names_the_keys() {
    let mut case = Case::new("check-revoked", true, |s| {
        s.with_grants(&[Grant::ClientCredentials])
    });
    case.service.revoke_client(&case.client_id).unwrap();
    case.write_config("client-credentials");
    let run = case.vfxadmin(&["check"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let first = verdicts(&run)
        .first()
        .copied()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.starts_with("[FAIL] OAuth2 token: none from ")
            && first.contains("invalid_client")
            && first.contains("oauth-client-id")
            && first.contains("oauth-client-secret"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(" C: AUTH"), "{}", run.stdout);
    let status = case.vfxadmin(&["oauth", "status"]);
    assert!(
        status.stdout.contains("FAILED, invalid_client"),
        "{}",
        status.stdout
    );
    case.assert_no_secret_written();
}

/// `vfxadmin oauth login` running in the background, its output in files.
fn spawn_login(case: &mut Case) -> (Child, PathBuf) {
    case.runs += 1;
    let out = case.path().join("output");
    std::fs::create_dir_all(&out).unwrap();
    let stdout = out.join(format!("{}.login.stdout", case.runs));
    let stderr = out.join(format!("{}.login.stderr", case.runs));
    let child = Command::new(bin_path("vfxadmin"))
        .args(["-c", case.ini().to_str().unwrap(), "oauth", "login"])
        .current_dir(case.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    (child, stdout)
}

/// The exit code of `child`, which must exit within a minute.
fn exit_code(child: &mut Child, what: &str) -> i32 {
    vmail_testkit::process::wait_exit(child, what, Duration::from_secs(60))
        .code()
        .unwrap_or(-1)
}

fn pending_code(case: &Case) -> String {
    let mut code = None;
    wait_for(
        "a pending device authorization",
        || {
            code = case
                .service
                .pending_user_codes(&case.client_id)
                .unwrap()
                .into_iter()
                .next();
            code.is_some()
        },
        String::new,
    );
    code.unwrap()
}

#[test]
fn login_pending_then_approved_stores_a_refresh_token_that_vmaild_uses() {
    let mut case = Case::new("login", false, |s| {
        s.with_grants(&[Grant::DeviceCode, Grant::RefreshToken])
            .with_device_timing(Duration::from_secs(1), Duration::from_secs(120))
    });
    case.write_config("refresh-token");
    let before = case.vfxadmin(&["oauth", "status"]);
    assert!(
        before
            .stdout
            .contains("refresh token:  not stored: run `vfxadmin oauth login`"),
        "{}",
        before.stdout
    );
    let (mut child, stdout) = spawn_login(&mut case);
    let code = pending_code(&case);
    // The first poll is told to slow down; the login must wait 5 s more
    // and go on, not fail.
    case.service.slow_down_next_poll(&case.client_id).unwrap();
    wait_for(
        "the first poll",
        || {
            case.service
                .counters(&case.client_id)
                .unwrap()
                .token_requests(Grant::DeviceCode)
                >= 1
        },
        String::new,
    );
    let printed = std::fs::read_to_string(&stdout).unwrap();
    assert!(printed.contains(&code), "the code is not shown:\n{printed}");
    assert!(
        printed.contains("/device") || printed.contains("http"),
        "{printed}"
    );
    assert!(
        case.vfxadmin(&["oauth", "status"])
            .stdout
            .contains("not stored"),
        "a refresh token stored before the approval"
    );
    case.service
        .approve_device(&case.client_id, Some(&code))
        .unwrap();
    let status = exit_code(&mut child, "vfxadmin oauth login");
    let printed = std::fs::read_to_string(&stdout).unwrap();
    assert_eq!(status, 0, "{printed}");
    assert!(printed.contains("Logged in"), "{printed}");

    let after = case.vfxadmin(&["oauth", "status"]);
    assert!(
        after.stdout.contains("refresh token:  stored"),
        "{}",
        after.stdout
    );

    // The real vmaild delivers with it.
    let id = format!("login.{}@vmail-test.example.test", std::process::id());
    let mut daemon = Daemon::start(&case);
    let inbox = case.path().join("spool/in");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join(".l.eml"),
        format!(
            "From: fax@example.test\nTo: {}\nSubject: login\nMessage-ID: <{id}>\n\nHello.\n",
            case.servers.user.user
        ),
    )
    .unwrap();
    std::fs::rename(inbox.join(".l.eml"), inbox.join("l.eml")).unwrap();
    if case
        .servers
        .wait_for_message(&id, Duration::from_secs(20))
        .is_none()
    {
        panic!(
            "{id} never arrived\n{}\n{}",
            daemon.log(),
            case.servers.log_tails(20)
        );
    }
    daemon.stop();

    let forget = case.vfxadmin(&["oauth", "forget"]);
    assert_eq!(forget.code, 0, "{}", forget.stderr);
    assert!(forget.stdout.contains("removed "), "{}", forget.stdout);
    let gone = case.vfxadmin(&["oauth", "status"]);
    assert!(gone.stdout.contains("not stored"), "{}", gone.stdout);
    case.assert_no_secret_written();
}

#[test]
fn ctrl_c_while_pending_stores_nothing() {
    let mut case = Case::new("login-cancel", false, |s| {
        s.with_grants(&[Grant::DeviceCode, Grant::RefreshToken])
            .with_device_timing(Duration::from_secs(1), Duration::from_secs(120))
    });
    case.write_config("refresh-token");
    let (mut child, stdout) = spawn_login(&mut case);
    let code = pending_code(&case);
    wait_for(
        "the code on the screen",
        || {
            std::fs::read_to_string(&stdout)
                .unwrap_or_default()
                .contains(&code)
        },
        String::new,
    );
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(exit_code(&mut child, "vfxadmin oauth login"), 130);
    // Approving now changes nothing: nobody polls any more.
    case.service
        .approve_device(&case.client_id, Some(&code))
        .unwrap();
    let status = case.vfxadmin(&["oauth", "status"]);
    assert!(status.stdout.contains("not stored"), "{}", status.stdout);
    assert!(!case.path().join("spool/oauth/refresh-token").exists());
    case.assert_no_secret_written();
}

/// vmaild (built on demand, like vfx_to_vmaild.rs does), stopped by its pid.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn start(case: &Case) -> Daemon {
        let exe = vmaild();
        let stderr = std::fs::File::create(case.path().join("vmaild.stderr")).unwrap();
        let child = Command::new(exe)
            .arg("--config")
            .arg(case.ini())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child,
            dir: case.path().to_path_buf(),
        };
        wait_for(
            "vmaild ready",
            || daemon.log().contains("ready:"),
            || daemon.log(),
        );
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("spool/logs/vmail")).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        exit_code(&mut self.child, "vmaild");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// vmaild, built for this package's tests (another package's binary).
fn vmaild() -> PathBuf {
    vmail_testkit::process::workspace_binary("vmail-daemon", "vmaild")
}
