//! A job deferred three times is tried again after retry-min, then twice
//! and four times that, and is delivered on the fourth attempt. Tokio's
//! clock is paused: a schedule of minutes is checked exactly, in
//! milliseconds of real time.

use crate::common::*;
use std::time::Duration;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;

#[tokio::test(start_paused = true)]
async fn deferred_jobs_come_back_after_a_doubling_wait() {
    let dir = tempfile::tempdir().unwrap();
    let min = MINUTE;
    let config = config(dir.path(), min, HOUR);
    let fake = Fake::scripted(vec![
        Answer::Defer(451),
        Answer::Defer(451),
        Answer::Defer(421),
    ]);
    let run = start(config, fake.clone(), Mode::Daemon);
    submit(&run.spool, &["a@example.test"], "retry");
    run.rescan().await;
    wait_until("four attempts", || fake.attempts().len() >= 4).await;
    wait_until("the job in sent/", || count(&run.spool.sent_dir()) == 1).await;

    let times: Vec<_> = fake.attempts().iter().map(|(at, _)| *at).collect();
    let waits: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(waits, vec![min, min * 2, min * 4], "the whole schedule");
    let id = &fake.attempts()[0].1.id;
    let log = run.spool.read_job_log(id).unwrap();
    assert!(
        log.contains("attempt 1 via fake: deferred: scripted (server said: 451 scripted 451)"),
        "{log}"
    );
    assert!(log.contains("attempt 3 via fake: deferred"), "{log}");
    assert!(log.contains("attempt 4 via fake: delivered"), "{log}");
    assert_eq!(log.matches("next attempt at").count(), 3, "{log}");
    run.control.send(Control::Shutdown).await.unwrap();
    assert_eq!(run.task.await.unwrap().remaining, 0);
}
