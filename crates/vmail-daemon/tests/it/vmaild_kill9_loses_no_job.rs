//! `kill -9` while jobs are being picked up and delivered, then a restart:
//! every job arrives (some may arrive twice, none is lost).
use crate::common::daemon;

use daemon::*;
use std::collections::BTreeSet;

const JOBS: usize = 300;

#[test]
fn every_job_survives_kill_dash_nine() {
    let dir = tempfile::tempdir().unwrap();
    let first = Daemon::capture(dir.path(), "");
    let spool = first.spool();
    for n in 0..JOBS {
        drop_eml(&spool, &format!("job-{n}.eml"), &eml(&format!("job-{n}")));
    }
    wait_for(
        "some deliveries",
        || !captures(dir.path()).is_empty(),
        || first.log(),
    );
    first.kill9();

    let second = Daemon::start(dir.path());
    let all_arrived = || {
        let text = captured_text(dir.path());
        (0..JOBS).all(|n| text.contains(&format!("<job-{n}@example.test>")))
    };
    wait_for("every job after the restart", all_arrived, || second.log());
    assert!(second.stop().success());
    let text = captured_text(dir.path());
    let ids: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("Message-ID:"))
        .collect();
    assert_eq!(ids.len(), JOBS);
    let duplicates = captures(dir.path()).len() - JOBS;
    eprintln!("{JOBS} jobs, killed once: {duplicates} delivered twice, 0 lost");
}
