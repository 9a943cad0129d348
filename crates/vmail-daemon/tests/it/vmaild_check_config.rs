//! `vmaild --check-config` prints every error at once and exits 78
//! (EX_CONFIG); a good file exits 0.
use crate::common::daemon;

use daemon::*;
use std::process::Command;

#[test]
fn check_config_lists_every_error_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write_config(dir.path(), "");
    let good = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--check-config")
        .arg("-c")
        .arg(&ini)
        .output()
        .unwrap();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("configuration OK"));

    std::fs::write(
        &ini,
        "[VMAIL]\nmail-port = 0\ntls = sometimes\n[VFXSCHED]\nspool = spool\n",
    )
    .unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--check-config")
        .arg("-c")
        .arg(&ini)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("vsisrv.ini:2: [VMAIL] mail-port"),
        "{stderr}"
    );
    assert!(stderr.contains("vsisrv.ini:3: [VMAIL] tls"), "{stderr}");
    assert!(
        stderr.contains("mail-server"),
        "the missing mail-server is reported too: {stderr}"
    );
}
