//! Under systemd (`Type=notify`), vmaild says READY=1 only after recovery,
//! reports the queue in STATUS, pings the watchdog, and says STOPPING=1.
use crate::common::daemon;
use crate::common::ini::Ini;

use daemon::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vmail_testkit::process::wait_exit;

/// vmaild on `ini` as systemd starts a `Type=notify` unit: its
/// notifications go to a socket bound in `dir` (read with a 200 ms
/// timeout), `env` is more of the environment systemd sets.
fn start_under_systemd(dir: &Path, ini: &Path, env: &[(&str, &str)]) -> (UnixDatagram, Child) {
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--config")
        .arg(ini)
        .env("NOTIFY_SOCKET", &socket_path)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (socket, child)
}

/// One datagram (if one comes within the socket's timeout) added to `seen`.
fn receive(socket: &UnixDatagram, seen: &mut String) {
    let mut buf = [0u8; 4096];
    if let Ok(n) = socket.recv(&mut buf) {
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        seen.push('\n');
    }
}

/// Every datagram received until `until` appears or 20 s pass.
fn read_until(socket: &UnixDatagram, seen: &mut String, until: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.contains(until) {
        assert!(
            Instant::now() < deadline,
            "no `{until}` from vmaild; got:\n{seen}"
        );
        receive(socket, seen);
    }
}

/// SIGTERM to `child` by its PID.
fn terminate(child: &Child) {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
}

#[test]
fn ready_status_watchdog_and_stopping_reach_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write_config(dir.path(), "");
    let spool = vmail_spool::Spool::open(dir.path().join("spool")).unwrap();
    let envelope = vmail_core::Envelope::new("fax@example.test", vec!["a@example.test".into()]);
    spool
        .submit(
            &envelope,
            &b"Subject: queued before start\n\nhi\n"[..],
            u64::MAX,
        )
        .unwrap();

    let (socket, mut child) = start_under_systemd(dir.path(), &ini, &[("WATCHDOG_USEC", "400000")]);
    let mut seen = String::new();
    read_until(&socket, &mut seen, "READY=1");
    assert!(seen.contains("STATUS="), "{seen}");
    read_until(&socket, &mut seen, "WATCHDOG=1");
    wait_for(
        "the queued job delivered",
        || captures(dir.path()).len() == 1,
        || seen.clone(),
    );
    read_until(&socket, &mut seen, "STATUS=0 job(s) queued");

    terminate(&child);
    read_until(&socket, &mut seen, "STOPPING=1");
    let status = wait_exit(&mut child, "vmaild after SIGTERM", Duration::from_secs(20));
    assert!(status.success());
}

/// The `EXTEND_TIMEOUT_USEC=` values in what systemd received, in order.
fn extensions(seen: &str) -> Vec<u64> {
    seen.lines()
        .filter_map(|line| line.strip_prefix("EXTEND_TIMEOUT_USEC="))
        .map(|usec| usec.trim().parse().unwrap())
        .collect()
}

/// SIGTERM with a session hung in DATA: the drain may last twice `timeout`
/// (here 16 s; 120 s with the default 60 s, beyond the unit's
/// `TimeoutStopSec=90`), so vmaild asks systemd for the whole drain plus a
/// margin when it starts draining, and renews the request while it waits.
/// The hung session ends at its own `timeout` and vmaild exits 0.
#[test]
fn a_long_drain_asks_systemd_for_more_time_and_renews_it() {
    use vmail_testkit::fault::{FaultServer, Script};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(FaultServer::start(
            Script::new().stall_message_containing("HANG-ME"),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ini = Ini::fault(server.port())
        .with("timeout = 8s")
        .write(dir.path());
    let (socket, mut child) = start_under_systemd(dir.path(), &ini, &[]);
    let mut seen = String::new();
    read_until(&socket, &mut seen, "READY=1");
    drop_eml(&dir.path().join("spool"), "hang.eml", &eml("HANG-ME"));
    let daemon_log =
        || std::fs::read_to_string(dir.path().join("spool/logs/vmail")).unwrap_or_default();
    wait_for(
        "the session to hang in DATA",
        || server.received("DATA"),
        daemon_log,
    );

    let asked = Instant::now();
    terminate(&child);
    read_until(&socket, &mut seen, "EXTEND_TIMEOUT_USEC=");
    let first = extensions(&seen)[0];
    assert!(
        (26_000_000..=26_500_000).contains(&first),
        "the first extension is the drain's 16 s and a 10 s margin: {first} µs\n{seen}"
    );
    // Renewed within the drain's 5 s wakes, counting down from the deadline.
    let deadline = Instant::now() + Duration::from_secs(20);
    while extensions(&seen).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the extension was not renewed:\n{seen}"
        );
        receive(&socket, &mut seen);
    }
    let renewed = extensions(&seen)[1];
    assert!(
        renewed < first && renewed > 10_000_000,
        "the renewal covers what is left of the drain: {renewed} µs after {first} µs\n{seen}"
    );
    let status = wait_exit(
        &mut child,
        "vmaild after SIGTERM",
        Duration::from_secs(20).saturating_sub(asked.elapsed()),
    );
    assert!(status.success(), "{status}\n{}", daemon_log());
    assert!(
        daemon_log().contains("waiting up to 16s for 1 busy session(s)"),
        "{}",
        daemon_log()
    );
}
