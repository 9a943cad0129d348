//! SIGTERM while a session is busy: no new session starts, the busy one
//! finishes its job, then the scheduler stops; a session still busy when
//! the drain's bound (twice the timeout, 30 s in capture mode) runs out is
//! left behind. Tokio's clock is paused: the waits are virtual and exact.

use crate::common::*;
use std::time::Duration;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;

#[tokio::test(start_paused = true)]
async fn a_busy_session_finishes_before_the_scheduler_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), TENTH, MINUTE);
    config.max_connections = 1;
    let fake = Fake::scripted(vec![Answer::Gate]);
    let run = start(config, fake.clone(), Mode::Daemon);
    submit(&run.spool, &["a@example.test"], "one");
    run.rescan().await;
    fake.wait_at_gate().await;

    run.control.send(Control::Shutdown).await.unwrap();
    // Queued after the stop request: must not be started.
    submit(&run.spool, &["b@example.test"], "two");
    run.rescan().await;
    // 29 of the drain's 30 seconds pass: the scheduler still waits.
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(!run.task.is_finished(), "stopped while a session was busy");
    fake.gate.notify_one();
    let exit = exit_of(run.task).await;
    assert_eq!(
        fake.attempts().len(),
        1,
        "no new session after the stop request"
    );
    assert_eq!(count(&run.spool.sent_dir()), 1);
    assert_eq!(exit.remaining, 1, "the second job stays queued");
}

#[tokio::test(start_paused = true)]
async fn a_session_still_busy_when_the_drain_runs_out_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), Duration::from_secs(1), MINUTE);
    config.max_connections = 1;
    let fake = Fake::scripted(vec![Answer::Gate]);
    let run = start(config, fake.clone(), Mode::Daemon);
    submit(&run.spool, &["a@example.test"], "hung");
    run.rescan().await;
    fake.wait_at_gate().await;
    let asked = tokio::time::Instant::now();
    run.control.send(Control::Shutdown).await.unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(60), run.task)
        .await
        .expect("the drain has a bound")
        .unwrap();
    let waited = tokio::time::Instant::now() - asked;
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(36),
        "the drain waited {waited:?}, its bound is 30 s"
    );
    assert_eq!(exit.remaining, 1, "the hung job stays queued");
}
