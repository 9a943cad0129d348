//! A job is recorded the moment the server has answered for it, not at the
//! end of its session's batch: a kill -9 later in the session resends at
//! most the message whose reply was in flight. And the failure notice of a
//! job is queued once, even when a crash makes the job fail twice.

use crate::common::*;
use std::sync::atomic::Ordering::SeqCst;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;

#[tokio::test(start_paused = true)]
async fn a_delivered_job_is_in_sent_while_its_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), MINUTE, HOUR);
    config.max_connections = 1;
    let fake = Fake::scripted(vec![
        Answer::Deliver,
        Answer::Fail(550),
        Answer::GateThen(Box::new(Answer::Deliver)),
    ]);
    let run = start(config, fake.clone(), Mode::Daemon);
    let mut submitted: Vec<_> = (0..3)
        .map(|n| submit(&run.spool, &["a@example.test"], &format!("m{n}")))
        .collect();
    run.rescan().await;
    wait_until("the third message in the session", || {
        fake.in_gate.load(SeqCst) == 1
    })
    .await;
    let ids: Vec<_> = fake.attempts().iter().map(|(_, a)| a.id.clone()).collect();
    submitted.sort();
    let mut carried = ids.clone();
    carried.sort();
    assert_eq!(carried, submitted, "one session carries the three jobs");
    assert!(
        run.spool.sent_dir().join(ids[0].as_str()).exists(),
        "the first job waits for the end of the session before it is recorded"
    );
    assert!(run.spool.failed_dir().join(ids[1].as_str()).exists());
    assert!(
        run.spool.message_path(&ids[2]).exists(),
        "the third is still out"
    );
    let log = run.spool.read_job_log(&ids[0]).unwrap();
    assert!(log.contains("status: delivered"), "{log}");
    fake.gate.notify_waiters();
    wait_until("all settled", || count(&run.spool.sent_dir()) == 3).await; // two jobs + the notice
    run.control.send(Control::Shutdown).await.unwrap();
    assert_eq!(run.task.await.unwrap().remaining, 0);
}

#[tokio::test(start_paused = true)]
async fn a_job_that_fails_again_after_a_crash_gets_one_notice() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), MINUTE, HOUR);
    let fake = Fake::scripted(vec![Answer::Fail(550), Answer::Deliver, Answer::Fail(550)]);
    let run = start(config.clone(), fake.clone(), Mode::Once);
    let id = submit(&run.spool, &["nobody@example.test"], "doomed");
    run.task.await.unwrap();
    assert_eq!(fake.attempts().len(), 2, "the job, then its notice");
    let notice = fake.attempts()[1].1.id.clone();
    assert!(run.spool.sent_dir().join(notice.as_str()).exists());

    // What a kill -9 between queueing the notice and moving the job to
    // failed/ leaves: the job still queued. It fails again after the start.
    std::fs::rename(
        run.spool.failed_dir().join(id.as_str()),
        run.spool.message_path(&id),
    )
    .unwrap();
    let _ = std::fs::rename(
        run.spool.failed_dir().join(format!("{id}.state")),
        run.spool.state_path(&id),
    );
    let again = start(config, fake.clone(), Mode::Once);
    again.task.await.unwrap();
    let attempts: Vec<_> = fake.attempts().iter().map(|(_, a)| a.id.clone()).collect();
    assert_eq!(
        attempts,
        vec![id.clone(), notice.clone(), id.clone()],
        "no second notice"
    );
    assert!(again.spool.failed_dir().join(id.as_str()).exists());
    let log = again.spool.read_job_log(&id).unwrap();
    assert!(
        log.contains(&format!(
            "was queued as job {notice} before a restart; not again"
        )),
        "{log}"
    );
}
