//! Due jobs are shared between the free sessions even when the queue also
//! holds many jobs waiting for a later retry: one session that blocks (a
//! server hanging in DATA) then holds only its share, and the other
//! session delivers the rest meanwhile.

use crate::common::*;
use std::time::{Duration, SystemTime};
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;
use vmail_spool::{JobState, Spool};

#[tokio::test]
async fn one_blocked_session_does_not_hold_every_due_job() {
    let dir = tempfile::tempdir().unwrap();
    // Two connections (the helper's default).
    let config = config(dir.path(), MINUTE, HOUR);
    assert_eq!(config.max_connections, 2);
    let spool = Spool::open(&config.spool).unwrap();
    let later = SystemTime::now() + Duration::from_secs(3600);
    for n in 0..6 {
        let id = submit(&spool, &["w@example.test"], &format!("waiting {n}"));
        let mut state = JobState::fresh(SystemTime::now());
        state.attempts = 1;
        state.next_due = Some(later);
        spool.record_attempt(&id, &state).unwrap();
    }
    for n in 0..4 {
        submit(&spool, &["d@example.test"], &format!("due {n}"));
    }
    // The first attempt blocks until the test opens the gate.
    let fake = Fake::scripted(vec![Answer::Gate]);
    let run = start(config, fake.clone(), Mode::Daemon);
    fake.wait_at_gate().await;
    wait_until("two due jobs delivered by the other session", || {
        count(&run.spool.sent_dir()) == 2
    })
    .await;
    assert_eq!(
        fake.attempts().len(),
        3,
        "the blocked job, and the two the other session delivered"
    );
    fake.gate.notify_one();
    wait_until("all four due jobs delivered", || {
        count(&run.spool.sent_dir()) == 4
    })
    .await;
    let tried: Vec<_> = fake
        .attempts()
        .iter()
        .map(|(_, attempt)| attempt.envelope.recipients.clone())
        .collect();
    assert_eq!(tried.len(), 4, "{tried:?}");
    assert!(
        tried.iter().all(|r| r == &["d@example.test"]),
        "a job waiting for its retry was tried: {tried:?}"
    );
    run.control.send(Control::Shutdown).await.unwrap();
    assert_eq!(run.task.await.unwrap().remaining, 6);
}
