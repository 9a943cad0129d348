//! SIGTERM while a session is busy: no new session starts, the busy one
//! finishes its job, then the scheduler stops.

use crate::common::*;
use std::time::Duration;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;
use vmail_daemon::watcher::Hint;

#[tokio::test]
async fn a_busy_session_finishes_before_the_scheduler_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(
        dir.path(),
        Duration::from_millis(100),
        Duration::from_secs(60),
    );
    config.max_connections = 1;
    let fake = Fake::scripted(vec![Answer::Gate]);
    let run = start(config, fake.clone(), Mode::Daemon);
    run.spool
        .submit(
            &envelope(&["a@example.test"]),
            message("one").as_slice(),
            u64::MAX,
        )
        .unwrap();
    run.hints.send(Hint::Rescan).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), fake.gate_entered.notified())
        .await
        .unwrap();

    run.control.send(Control::Shutdown).await.unwrap();
    // Queued after the stop request: must not be started.
    run.spool
        .submit(
            &envelope(&["b@example.test"]),
            message("two").as_slice(),
            u64::MAX,
        )
        .unwrap();
    run.hints.send(Hint::Rescan).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!run.task.is_finished(), "stopped while a session was busy");
    fake.gate.notify_one();
    let exit = tokio::time::timeout(Duration::from_secs(10), run.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fake.attempts().len(),
        1,
        "no new session after the stop request"
    );
    assert_eq!(count(&run.spool.sent_dir()), 1);
    assert_eq!(exit.remaining, 1, "the second job stays queued");
}
