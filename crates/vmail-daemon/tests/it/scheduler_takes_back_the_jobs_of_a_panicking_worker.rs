//! A worker that panics (a bug in a session) hands its jobs back: they are
//! tried again after retry-min, and the session slot it held is free, so
//! `max-connections` sessions still run afterwards.

use crate::common::*;
use std::sync::atomic::Ordering::SeqCst;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;

#[tokio::test(start_paused = true)]
async fn the_jobs_of_a_panicked_session_are_retried_and_its_slot_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let min = MINUTE;
    let mut config = config(dir.path(), min, DAY);
    config.max_connections = 2;
    // Both sessions of the first round panic; the retries deliver.
    let fake = Fake::scripted(vec![Answer::Panic, Answer::Panic]);
    let run = start(config, fake.clone(), Mode::Daemon);
    for n in 0..4 {
        submit(&run.spool, &["a@example.test"], &format!("panic {n}"));
    }
    run.rescan().await;
    wait_until("all four delivered", || count(&run.spool.sent_dir()) == 4).await;
    let attempts = fake.attempts();
    let first = attempts[0].0;
    let late: Vec<_> = attempts
        .iter()
        .filter(|(at, _)| *at - first >= min)
        .collect();
    assert!(
        late.len() >= 2,
        "the panicked jobs must come back after retry-min: {:?}",
        attempts
            .iter()
            .map(|(at, a)| (*at - first, a.id.clone()))
            .collect::<Vec<_>>()
    );

    // Both session slots are free again: two sessions run at once.
    for n in 0..2 {
        fake.script.lock().unwrap().push_back(Answer::Gate);
        submit(&run.spool, &["b@example.test"], &format!("slot {n}"));
    }
    run.rescan().await;
    wait_until("two sessions at the gate at once", || {
        fake.in_gate.load(SeqCst) == 2
    })
    .await;
    fake.gate.notify_waiters();
    wait_until("the two delivered", || count(&run.spool.sent_dir()) == 6).await;
    run.control.send(Control::Shutdown).await.unwrap();
    assert_eq!(run.task.await.unwrap().remaining, 0);
}
