//! A 5xx fails the job at once; its sender gets exactly one notice, and a
//! notice that fails in turn produces no further notice.

use crate::common::*;
use vmail_daemon::scheduler::Mode;

#[tokio::test]
async fn a_failed_job_sends_one_notice_and_notices_never_loop() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), TENTH, MINUTE);
    // The job fails with 550; its notice fails with 550 too.
    let fake = Fake::scripted(vec![Answer::Fail(550), Answer::Fail(550)]);
    let spool = vmail_spool::Spool::open(&config.spool).unwrap();
    submit(&spool, &["nobody@example.test"], "doomed");
    // --once runs until nothing is due: a looping notice would show up here.
    let run = start(config, fake.clone(), Mode::Once);
    let exit = exit_of(run.task).await;
    assert_eq!(exit.remaining, 0);
    assert_eq!(
        count(&spool.failed_dir()),
        2,
        "the job and its notice in failed/"
    );

    let attempts = fake.attempts();
    assert_eq!(
        attempts.len(),
        2,
        "one attempt for the job, one for its notice"
    );
    let notice = &attempts[1].1;
    assert!(
        notice.envelope.from.is_empty(),
        "a notice goes with the null sender"
    );
    assert_eq!(
        notice.envelope.recipients,
        vec!["fax@example.test".to_string()]
    );
    let text = std::fs::read_to_string(spool.failed_dir().join(notice.id.as_str())).unwrap();
    assert!(text.contains("Subject: Undelivered mail: doomed"), "{text}");
    assert!(text.contains("550 scripted 550"), "{text}");

    let log = spool.read_job_log(&attempts[0].1.id).unwrap();
    assert!(log.contains("status: failed"), "{log}");
    assert!(
        log.contains(&format!(
            "failure notice to <fax@example.test> queued as job {}",
            notice.id
        )),
        "{log}"
    );
    let notice_log = spool.read_job_log(&notice.id).unwrap();
    assert!(
        notice_log.contains("no failure notice: the job has no sender"),
        "{notice_log}"
    );
}
