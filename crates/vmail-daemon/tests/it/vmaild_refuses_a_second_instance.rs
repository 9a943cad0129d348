//! Two daemons on one spool would send every job twice: the second refuses
//! and names the first one's pid, once.
use crate::common::daemon;

use daemon::*;
use std::process::Command;

#[test]
fn the_second_vmaild_names_the_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write_config(dir.path(), "");
    let first = Daemon::start(dir.path());
    let second = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--config")
        .arg(&ini)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(
        stderr,
        format!(
            "vmaild: vmaild is already running on {} (pid {})\n",
            dir.path().join("spool").display(),
            first.pid()
        ),
        "said once, with the pid"
    );
    assert!(first.stop().success());
}
