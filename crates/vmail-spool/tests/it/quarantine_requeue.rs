//! `vfxadmin quarantine`'s spool side: list with reasons, requeue under a
//! fresh name with the reason carried into the new job's log, delete.

use vmail_spool::QuarantineError;

use crate::{drop_file, names, spool};

#[test]
fn a_requeued_drop_is_picked_up_again_and_its_log_keeps_the_reason() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "cron.job", b"subject = s\nbody = hi\n");
    assert!(spool.ingest(&path, "fax@example.com", 1 << 20).is_err());
    let listed = spool.quarantined().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "cron.job");
    let reason = listed[0].reason.clone().unwrap();
    assert!(
        reason.ends_with("cron.job: has no recipients: `to`, `cc` and `bcc` are all empty"),
        "{reason}"
    );

    // The administrator fixes the file in place, then requeues it.
    std::fs::write(&listed[0].path, b"to = ann@example.org\nbody = hi\n").unwrap();
    let back = spool.requeue_quarantined("cron.job").unwrap();
    let fresh = back.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        fresh.starts_with("cron.requeued-") && fresh.ends_with(".job"),
        "{fresh}"
    );
    assert!(names(&spool.quarantine_dir()).is_empty());
    assert_eq!(spool.drops().unwrap(), std::slice::from_ref(&back));

    let id = spool.ingest(&back, "fax@example.com", 1 << 20).unwrap();
    let note = spool.load(&id).unwrap().note.unwrap();
    assert!(
        note.contains(&format!(
            "queued from in/{fresh}; requeued from quarantine/cron.job, which said: "
        )) && note.ends_with("has no recipients: `to`, `cc` and `bcc` are all empty"),
        "{note}"
    );
    assert!(
        names(&spool.in_dir()).is_empty(),
        "{:?}",
        names(&spool.in_dir())
    );
}

#[test]
fn requeued_and_quarantined_again_keeps_both_reasons() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "a.eml", b"Subject: none\n\nhi\n");
    assert!(spool.ingest(&path, "fax@example.com", 1 << 20).is_err());
    let back = spool.requeue_quarantined("a.eml").unwrap();
    assert!(spool.ingest(&back, "fax@example.com", 1 << 20).is_err());
    let listed = spool.quarantined().unwrap();
    assert_eq!(listed.len(), 1);
    let reason = listed[0].reason.clone().unwrap();
    assert!(
        reason.contains("\n(earlier: requeued from quarantine/a.eml, which said: "),
        "{reason}"
    );
    assert!(names(&spool.in_dir()).is_empty());
}

#[test]
fn only_drops_can_be_requeued_and_names_are_checked() {
    let (_dir, spool) = spool();
    std::fs::write(spool.quarantine_dir().join("20261201-000000-00aa"), b"F\n").unwrap();
    let err = spool
        .requeue_quarantined("20261201-000000-00aa")
        .unwrap_err();
    assert!(matches!(err, QuarantineError::NotADrop { .. }), "{err}");
    assert_eq!(
        spool
            .requeue_quarantined("../queue/x")
            .unwrap_err()
            .to_string(),
        "`../queue/x` is not a name in quarantine/ (a file name as `vfxadmin quarantine list` shows it)"
    );
    assert!(matches!(
        spool.delete_quarantined("none.eml").unwrap_err(),
        QuarantineError::Missing { .. }
    ));
    spool.delete_quarantined("20261201-000000-00aa").unwrap();
    assert!(spool.quarantined().unwrap().is_empty());
}
