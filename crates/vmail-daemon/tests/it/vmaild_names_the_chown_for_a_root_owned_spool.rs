//! A spool made by a run as root (what `bash scripts/run-default.sh` leaves
//! when run as root), then vmaild started as another user, the way the
//! unit's `User=vmail` starts it: vmaild refuses once, naming the folder,
//! its owner and the `chown` to run, and starts after that `chown`. The
//! test's user is `nobody` (the test runs as root and drops to it with
//! setpriv); it is skipped when not run as root.
use crate::common::daemon;

use daemon::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| {
        use std::os::unix::fs::MetadataExt;
        meta.uid() == 0
    })
}

/// vmaild as `nobody:nogroup`, until it exits or says it is ready.
fn vmaild_as_nobody(ini: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--config")
        .arg(ini)
        .stdin(Stdio::null());
    command
}

fn run_to_exit(ini: &Path) -> Output {
    let mut child = vmaild_as_nobody(ini)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("vmaild as nobody did not stop on a root-owned spool");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_root_owned_spool_is_refused_once_with_the_chown_to_run() {
    if !is_root() {
        eprintln!("skipped: needs root to make a root-owned spool and drop to nobody");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ini = write_config(dir.path(), "");
    std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o644)).unwrap();
    let spool = dir.path().join("spool");
    // As root, the way a first run as root leaves it: every folder root's.
    vmail_spool::Spool::open(&spool).unwrap();
    // The root folder readable by all (a common hand-made state); the
    // folders inside stay 0750 root:root.
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = run_to_exit(&ini);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "vmaild: cannot open {spool}/vmaild.pid: permission denied for nobody, the user this runs as \
         ({spool} belongs to root:root, mode 0755); give the spool to nobody with \
         `chown -R nobody:nogroup {spool}`\n",
        spool = spool.display()
    );
    assert_eq!(stderr, expected);
    assert_eq!(
        stderr.to_lowercase().matches("permission denied").count(),
        1,
        "{stderr}"
    );

    // Inside folders too, when the root is already the user's.
    Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(&spool)
        .status()
        .unwrap();
    let output = run_to_exit(&ini);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "vmaild: cannot write in {}/in: permission denied for nobody",
            spool.display()
        )) && stderr.contains("belongs to root:root, mode 0750")
            && stderr.ends_with(&format!("`chown -R nobody:nogroup {}`\n", spool.display())),
        "{stderr}"
    );

    // The fix it names works.
    let chown = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&spool)
        .status()
        .unwrap();
    assert!(chown.success());
    let mut child = vmaild_as_nobody(&ini)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(spool.join("logs/vmail")).unwrap_or_default();
    wait_for("vmaild as nobody ready", || log().contains("ready:"), log);
    // setpriv execs vmaild: the child's pid is vmaild's.
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "vmaild did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}\n{}", log());
}
