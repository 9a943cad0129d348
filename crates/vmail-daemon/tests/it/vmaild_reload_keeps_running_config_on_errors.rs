//! SIGHUP with a broken file: every error is logged, the running
//! configuration stays in force; SIGHUP with a good file applies it.
use crate::common::daemon;

use daemon::*;

#[test]
fn a_bad_reload_is_reported_in_full_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ini = write_config(dir.path(), "");
    let vmaild = Daemon::start(dir.path());
    std::fs::write(&ini, "[VMAIL]\nmail-server = file:capture\nmail-port = 99999\nauth-type = kerberos\n[VFXSCHED]\nspool = spool\n").unwrap();
    vmaild.signal("HUP");
    vmaild.wait_for_log("configuration not reloaded");
    let log = vmaild.log();
    assert!(
        log.contains("has errors; keeping the running configuration"),
        "{log}"
    );
    assert!(log.contains("vsisrv.ini:3: [VMAIL] mail-port"), "{log}");
    assert!(log.contains("vsisrv.ini:4: [VMAIL] auth-type"), "{log}");

    let spool = dir.path().join("spool");
    drop_eml(&spool, "after-bad-reload.eml", &eml("after-bad-reload"));
    wait_for(
        "delivery after the bad reload",
        || captures(dir.path()).len() == 1,
        || vmaild.log(),
    );

    std::fs::write(&ini, "[VMAIL]\nmail-server = file:capture2\nfrom = fax@example.test\n[VFXSCHED]\nspool = spool\n").unwrap();
    vmaild.signal("HUP");
    vmaild.wait_for_log("configuration reloaded");
    drop_eml(&spool, "after-good-reload.eml", &eml("after-good-reload"));
    wait_for(
        "delivery into the new capture folder",
        || {
            dir.path()
                .join("capture2")
                .read_dir()
                .is_ok_and(|mut d| d.next().is_some())
        },
        || vmaild.log(),
    );
    assert!(vmaild.stop().success());
}
