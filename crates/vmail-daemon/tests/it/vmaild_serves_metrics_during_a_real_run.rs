//! `[VMAIL] metrics-listen` during a run against the real Postfix: curl
//! scrapes the endpoint, Prometheus's `promtool check metrics` finds
//! nothing wrong with it, and every figure matches what the spool holds:
//! delivered = jobs in `sent/`, failed = jobs in `failed/`, the queue's
//! gauges = what `queue/` holds (one held job, one deferred by Postfix's
//! 450). The status file says the same, and says stopped after SIGTERM.
//! A taken port or a remote address is refused at the start.
use crate::common::daemon::*;
use crate::common::ini::Ini;
use crate::common::real;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use vmail_core::Envelope;
use vmail_daemon::status::DaemonStatus;
use vmail_spool::Spool;

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn scrape(url: &str) -> String {
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail",
            "--max-time",
            "10",
            url,
        ])
        .output()
        .expect("curl is needed for this test (apt-get install curl)");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `promtool check metrics` on `text`: its complaints, empty when none.
fn promtool_check(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool is needed (Debian's prometheus package: tests/servers/start.sh installs it)",
        );
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        said
    } else {
        format!("exit {:?}: {said}", out.status.code())
    }
}

/// Every sample line, by its name with labels: `name{labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The sum of every sample of `metric` (all its label sets).
fn total(samples: &BTreeMap<String, f64>, metric: &str) -> f64 {
    samples
        .iter()
        .filter(|(name, _)| *name == metric || name.starts_with(&format!("{metric}{{")))
        .map(|(_, value)| value)
        .sum()
}

fn count(spool: &Path, folder: &str) -> f64 {
    real::jobs_in(spool, folder).len() as f64
}

#[test]
fn prometheus_reads_what_the_spool_holds() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    Ini::plain(&servers, servers.smtp_plain_port)
        .with(&format!(
            "from = {}\nmetrics-listen = 127.0.0.1:{port}\nretry-min = 1h\nretry-max = 2h",
            servers.user.user
        ))
        .write(dir.path());
    let spool_dir = dir.path().join("spool");
    // A held job, queued before the start.
    let spool = Spool::open(&spool_dir).unwrap();
    let envelope = Envelope::new(servers.user.user.as_str(), vec![servers.user.user.clone()]);
    let held = real::eml(
        &servers.user.user,
        &[&servers.user.user],
        &real::message_id("held"),
        "held\n",
    );
    let held = spool.submit(&envelope, held.as_bytes(), u64::MAX).unwrap();
    spool.hold(&held).unwrap();

    let daemon = Daemon::start(dir.path());
    daemon.wait_for_log(&format!("metrics: http://127.0.0.1:{port}/metrics"));
    let good: Vec<String> = (0..4)
        .map(|n| real::message_id(&format!("metrics{n}")))
        .collect();
    for (n, id) in good.iter().enumerate() {
        let text = real::eml(&servers.user.user, &[&servers.user.user], id, "counted\n");
        drop_eml(&spool_dir, &format!("g{n}.eml"), &text);
    }
    let refused = real::eml(
        &servers.user.user,
        &[&servers.reject_rcpt],
        &real::message_id("refused"),
        "x\n",
    );
    drop_eml(&spool_dir, "refused.eml", &refused);
    let deferred = real::eml(
        &servers.user.user,
        &[&servers.defer_rcpt],
        &real::message_id("deferred"),
        "x\n",
    );
    drop_eml(&spool_dir, "deferred.eml", &deferred);
    // Four delivered and the refused job's notice (to a mailbox of the
    // server) in sent/, the refused one in failed/, the held and the
    // deferred one in queue/; then the session's QUIT, which comes after
    // the last job is recorded: the scrape that shows no session open is
    // the one checked.
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut text = String::new();
    wait_for(
        "4 jobs and a notice in sent/, 1 in failed/, 2 queued and tried, no session open",
        || {
            let settled = count(&spool_dir, "sent") == 5.0
                && count(&spool_dir, "failed") == 1.0
                && real::jobs_in(&spool_dir, "queue").len() == 2
                && spool
                    .ids()
                    .unwrap()
                    .iter()
                    .any(|id| spool.state(id).is_ok_and(|s| s.attempts == 1));
            if settled {
                text = scrape(&url);
            }
            settled && samples(&text).get("vmail_sessions_open") == Some(&0.0)
        },
        || daemon.log(),
    );

    let complaints = promtool_check(&text);
    assert!(
        complaints.trim().is_empty(),
        "promtool check metrics:\n{complaints}\n{text}"
    );
    let s = samples(&text);
    assert_eq!(
        total(&s, "vmail_delivered_total"),
        count(&spool_dir, "sent"),
        "{text}"
    );
    assert_eq!(
        s.get("vmail_delivered_total{reply_class=\"2xx\",enhanced_class=\"2\"}"),
        Some(&5.0),
        "{text}"
    );
    assert_eq!(
        total(&s, "vmail_failed_total"),
        count(&spool_dir, "failed"),
        "{text}"
    );
    assert_eq!(
        s.get("vmail_failed_total{reply_class=\"5xx\",enhanced_class=\"5\"}"),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(
        s.get("vmail_deferred_total{reply_class=\"4xx\",enhanced_class=\"4\"}"),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(s.get("vmail_notices_queued_total"), Some(&1.0), "{text}");
    assert_eq!(
        s.get("vmail_jobs_queued"),
        Some(&count(&spool_dir, "queue")),
        "{text}"
    );
    assert_eq!(s.get("vmail_jobs_held"), Some(&1.0), "{text}");
    assert_eq!(s.get("vmail_jobs_deferred"), Some(&1.0), "{text}");
    assert_eq!(s.get("vmail_sessions_open"), Some(&0.0), "{text}");
    assert_eq!(
        s.get("vmail_message_latency_seconds_count"),
        Some(&6.0),
        "{text}"
    );
    assert!(
        s.get("vmail_session_duration_seconds_count") >= Some(&1.0),
        "{text}"
    );
    assert!(
        s.get("vmail_oldest_queued_job_age_seconds") > Some(&0.0),
        "{text}"
    );
    assert!(s.get("vmail_spool_free_bytes") > Some(&0.0), "{text}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = s["vmail_last_delivery_timestamp_seconds"];
    assert!(
        now - last < 60.0 && now >= last - 1.0,
        "{last} vs now {now}"
    );
    assert!(!text.contains("oauth"), "no OAuth2 configured:\n{text}");

    // The same counts in the status file (rewritten every 2 s).
    let mut status = None;
    wait_for(
        "the status file to show the run",
        || {
            status = DaemonStatus::read(&spool_dir).unwrap();
            status
                .as_ref()
                .is_some_and(|s| s.delivered == 5 && s.failed == 1)
        },
        || format!("{:?}", DaemonStatus::read(&spool_dir)),
    );
    let status = status.unwrap();
    assert!(status.running);
    assert_eq!(status.pid, daemon.pid());
    assert_eq!(status.metrics_listen, Some(format!("127.0.0.1:{port}")));
    let host = &status.hosts[0];
    assert_eq!(
        host.host,
        format!("{}:{}", servers.host, servers.smtp_plain_port)
    );
    let error = host.last_error.as_ref().unwrap();
    assert!(
        error.text.contains("450") || error.text.contains("550"),
        "{error:?}"
    );

    assert_eq!(daemon.stop().code(), Some(0));
    let stopped = DaemonStatus::read(&spool_dir).unwrap().unwrap();
    assert!(!stopped.running, "{stopped:?}");
    assert_eq!(stopped.delivered, 5);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the endpoint outlived the daemon"
    );
}

/// A taken port stops the start with the key to change, and a remote
/// address is a configuration error (exit 78) naming the line.
#[test]
fn a_taken_port_or_a_remote_address_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let ini = write_config(dir.path(), &format!("metrics-listen = {addr}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("-c")
        .arg(&ini)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = None;
    wait_for(
        "vmaild to give up on the taken port",
        || {
            status = child.try_wait().unwrap();
            status.is_some()
        },
        String::new,
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.unwrap().code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot serve metrics on {addr} ([VMAIL] metrics-listen): "
        )),
        "{stderr}"
    );

    std::fs::write(
        &ini,
        "[VMAIL]\nmail-server = file:capture\nmetrics-listen = 0.0.0.0:9325\n[VFXSCHED]\nspool = spool\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .args(["--check-config", "-c"])
        .arg(&ini)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "vsisrv.ini:3: [VMAIL] metrics-listen: \"0.0.0.0:9325\" is not a loopback address"
        ),
        "{stderr}"
    );
}
