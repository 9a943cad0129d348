//! Issue 12's benchmark: a batch of 2,000 jobs through the release vmaild
//! to the same private Postfix, logging in with XOAUTH2 (a client
//! credentials token from the test token service, which Dovecot checks by
//! introspection) against logging in with PLAIN (Dovecot's passdb). The
//! token is fetched once per run, not per message or per session, so the
//! two should be within 5 % of each other.
//!
//! Runs alternate (PLAIN, XOAUTH2, PLAIN, XOAUTH2, ...) so that a drift of
//! the machine hits both; each run has a fresh spool (so XOAUTH2 pays its
//! one token request every run). The time is first drop to the last job
//! in `sent/` (each job is recorded at its own 250).
//!
//! `cargo bench -p vmail-daemon --bench oauth_batch_vs_plain` starts its own
//! Postfix, Dovecot and token service with `tests/servers/start.sh` in
//! `target/bench-oauth-servers` (never the shared ones: 2,000 messages a run
//! would slow every test's Maildir search) and stops them at the end.
//! `VMAIL_BENCH_JOBS` changes the 2,000, `VMAIL_BENCH_ROUNDS` the 5 rounds. Before each run the bench waits until
//! Postfix has delivered every earlier message into the Maildir.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use vmail_testkit::oauth::{
    ClientSpec, Grant, TokenServiceClient, TokenServiceControl, unique_client_id,
};
use vmail_testkit::servers::TestServers;

fn main() {
    if !common::run_as_benchmark() {
        return;
    }
    let jobs = env_number("VMAIL_BENCH_JOBS", 2_000);
    let rounds = env_number("VMAIL_BENCH_ROUNDS", 5);
    let servers = PrivateServers::start();
    let service = TokenServiceClient::from_servers(&servers.servers).unwrap();
    let client_id = unique_client_id("bench");
    let secret = format!("sec-{}", unique_client_id("s"));
    service
        .register_client(
            &ClientSpec::new(&client_id, &servers.servers.user.user)
                .with_secret(&secret)
                .with_grants(&[Grant::ClientCredentials]),
        )
        .unwrap();
    let oauth = Login::XOAuth2 {
        client_id: client_id.clone(),
        secret,
        token_url: service.urls().token(),
    };
    let mut plain_rates = Vec::new();
    let mut oauth_rates = Vec::new();
    let mut delivered = 0;
    for round in 1..=rounds {
        delivered = postfix_idle(&servers.servers, delivered);
        let p = run(&servers.servers, &Login::Plain, jobs);
        println!(
            "round {round}: PLAIN   {jobs} jobs in {:.2} s = {:.0} jobs/s",
            p.secs, p.rate
        );
        plain_rates.push(p.rate);
        delivered = postfix_idle(&servers.servers, delivered + jobs);
        let before = service.counters(&client_id).unwrap().total_token_requests();
        let o = run(&servers.servers, &oauth, jobs);
        let requests = service.counters(&client_id).unwrap().total_token_requests() - before;
        println!(
            "round {round}: XOAUTH2 {jobs} jobs in {:.2} s = {:.0} jobs/s ({requests} token request(s), {} session(s))",
            o.secs, o.rate, o.sessions
        );
        oauth_rates.push(o.rate);
        delivered += jobs;
    }
    let (plain, xoauth2) = (median(&mut plain_rates), median(&mut oauth_rates));
    println!(
        "median over {rounds} rounds: PLAIN {plain:.0} jobs/s, XOAUTH2 {xoauth2:.0} jobs/s: XOAUTH2 is {:+.1} % of PLAIN",
        (xoauth2 / plain - 1.0) * 100.0
    );
    let (plain, xoauth2) = (best(&plain_rates), best(&oauth_rates));
    println!(
        "best of {rounds} rounds: PLAIN {plain:.0} jobs/s, XOAUTH2 {xoauth2:.0} jobs/s: XOAUTH2 is {:+.1} % of PLAIN",
        (xoauth2 / plain - 1.0) * 100.0
    );
}

/// Waits until Postfix has delivered `expected` bench messages in all
/// (it accepts with 250 and delivers after), so that one run's local
/// deliveries do not compete with the next run; returns the count.
fn postfix_idle(servers: &TestServers, expected: usize) -> usize {
    let maildir = servers.maildir_of("bench@example.test");
    let count = || {
        ["new", "cur"]
            .iter()
            .map(|sub| {
                std::fs::read_dir(maildir.join(sub))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum::<usize>()
    };
    wait_until(
        "Postfix to deliver the previous run",
        Duration::from_secs(600),
        || count() >= expected,
    );
    count()
}

fn best(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

enum Login {
    Plain,
    XOAuth2 {
        client_id: String,
        secret: String,
        token_url: String,
    },
}

struct Figures {
    secs: f64,
    rate: f64,
    sessions: usize,
}

fn run(servers: &TestServers, login: &Login, jobs: usize) -> Figures {
    let root = tempfile::tempdir().unwrap();
    write_config(root.path(), servers, login);
    let vmaild = Vmaild::start(root.path());
    vmaild.wait_ready();
    let stage = root.path().join("stage");
    std::fs::create_dir(&stage).unwrap();
    let drop_dir = root.path().join("spool/in");
    let start = Instant::now();
    for n in 0..jobs {
        let staged = stage.join(format!("{n}.eml"));
        // The catch-all mailbox of example.test: the test user's Maildir
        // stays small.
        let text = message_2k(n, now_ns()).replace("sink@bench.test", "bench@example.test");
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, drop_dir.join(format!("{n}.eml"))).unwrap();
    }
    let sent = root.path().join("spool/sent");
    let mut done = 0;
    while done < jobs {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "only {done} of {jobs} jobs in sent/ after 10 min:\n{}",
            vmaild.log()
        );
        std::thread::sleep(Duration::from_millis(5));
        done = count_jobs(&sent);
    }
    let secs = start.elapsed().as_secs_f64();
    let log = vmaild.log();
    vmaild.stop();
    assert_no_failures(root.path());
    Figures {
        secs,
        rate: jobs as f64 / secs,
        sessions: log.matches("takes").count(),
    }
}

fn count_jobs(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().contains('.'))
                .count()
        })
        .unwrap_or(0)
}

fn assert_no_failures(root: &Path) {
    let queued = count_jobs(&root.join("spool/queue"));
    let failed = count_jobs(&root.join("spool/failed"));
    assert_eq!((queued, failed), (0, 0), "jobs left queued or failed");
}

fn write_config(dir: &Path, servers: &TestServers, login: &Login) {
    let key = dir.join("vmail.key");
    let (k, _) = vmail_config::secrets::load_or_create_key(&key).unwrap();
    let (port, auth) = match login {
        Login::Plain => {
            let rsp = format!("{}|{}", servers.user.user, servers.user.password);
            (
                servers.submission_port,
                format!(
                    "auth-type = plain\nauth-delim = |\nauth-rsp = {}\n",
                    vmail_config::secrets::seal(&k, &rsp).unwrap()
                ),
            )
        }
        Login::XOAuth2 {
            client_id,
            secret,
            token_url,
        } => (
            servers.oauth_port,
            format!(
                "auth-type = xoauth2\noauth-provider = generic\noauth-grant = client-credentials\n\
                 oauth-client-id = {client_id}\noauth-client-secret = {}\noauth-user = {}\n\
                 oauth-token-url = {token_url}\n",
                vmail_config::secrets::seal(&k, secret).unwrap(),
                servers.user.user
            ),
        ),
    };
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(
        dir.join("vsisrv.ini"),
        format!(
            "[VMAIL]\nmail-server = {}\nmail-port = {port}\ntls = starttls\nca-file = {}\n\
             from = bench@example.test\nhelo-name = bench.example.test\nkey-file = {}\n{auth}\
             [VFXSCHED]\nspool = {}\ndebug = On\n",
            servers.host,
            servers.ca_cert.display(),
            key.display(),
            spool.display()
        ),
    )
    .unwrap();
    vmail_spool::Spool::open(&spool).unwrap();
}

/// `tests/servers/start.sh` in a folder of its own, `stop.sh` when dropped.
struct PrivateServers {
    dir: PathBuf,
    servers: TestServers,
}

impl PrivateServers {
    fn start() -> PrivateServers {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = root.join("target/bench-oauth-servers");
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("bash")
            .arg(root.join("tests/servers/start.sh"))
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "tests/servers/start.sh failed");
        let servers = TestServers::from_file(&dir.join("servers.env")).unwrap();
        PrivateServers { dir, servers }
    }
}

impl Drop for PrivateServers {
    fn drop(&mut self) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let _ = Command::new("bash")
            .arg(root.join("tests/servers/stop.sh"))
            .arg(&self.dir)
            .status();
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
