//! cron mails `root`: a drop to a bare name reaches `[VMAIL] admin-address`
//! through vmaild's own pickup, and the job log says what was rewritten.

use crate::common::daemon::{Daemon, captured_text, captures, wait_for, write_config};
use crate::common::real;

#[test]
fn a_job_dropped_for_root_goes_to_the_admin_address() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "admin-address = admin@example.test\nlocal-domain = fax.example.test",
    );
    let daemon = Daemon::start(dir.path());
    let spool = dir.path().join("spool");
    let temp = spool.join("in/.cron.job");
    std::fs::write(
        &temp,
        "[job]\nto = root\nfrom = cron\nsubject = nightly\nbody = done\n",
    )
    .unwrap();
    std::fs::rename(&temp, spool.join("in/cron.job")).unwrap();
    wait_for(
        "the capture",
        || captures(dir.path()).len() == 1,
        || daemon.log(),
    );
    assert!(daemon.stop().success());
    let text = captured_text(dir.path());
    assert!(
        text.contains("X-Vmail-Envelope-To: <admin@example.test>"),
        "{text}"
    );
    // The .job's sender names the From field; the envelope keeps [VMAIL] from.
    assert!(text.contains("From: cron@fax.example.test"), "{text}");
    let id = real::jobs_in(&spool, "sent").pop().unwrap();
    let log = real::job_log(&spool, &id);
    assert!(
        log.contains("recipient root rewritten to admin@example.test ([VMAIL] admin-address)"),
        "{log}"
    );
}
