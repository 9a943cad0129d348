//! Under systemd (`Type=notify`), vmaild says READY=1 only after recovery,
//! reports the queue in STATUS, pings the watchdog, and says STOPPING=1.
use crate::common::daemon;

use daemon::*;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every datagram received until `until` appears or 20 s pass.
fn read_until(socket: &UnixDatagram, seen: &mut String, until: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while !seen.contains(until) {
        assert!(
            Instant::now() < deadline,
            "no `{until}` from vmaild; got:\n{seen}"
        );
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            seen.push('\n');
        }
    }
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

    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--config")
        .arg(&ini)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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

    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    read_until(&socket, &mut seen, "STOPPING=1");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "vmaild did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}
