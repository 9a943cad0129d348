//! One recipient accepted, one refused, one deferred: the accepted one is
//! never sent again, the refused one is reported to the sender, and the
//! deferred one goes on alone as a new job.

use crate::common::*;
use std::time::Duration;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;
use vmail_daemon::watcher::Hint;

#[tokio::test]
async fn each_recipient_gets_what_its_reply_says() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        Duration::from_millis(100),
        Duration::from_secs(60),
    );
    let fake = Fake::scripted(vec![Answer::Recipients(vec![
        Some(true),
        Some(false),
        None,
    ])]);
    let run = start(config, fake.clone(), Mode::Daemon);
    let rcpts = ["ok@example.test", "bad@example.test", "later@example.test"];
    run.spool
        .submit(&envelope(&rcpts), message("split").as_slice(), u64::MAX)
        .unwrap();
    run.hints.send(Hint::Rescan).await.unwrap();
    wait_until("the job, its notice and the requeued rest sent", || {
        count(&run.spool.sent_dir()) == 3
    })
    .await;

    let attempts = fake.attempts();
    assert_eq!(
        attempts.len(),
        3,
        "{:?}",
        attempts.iter().map(|a| &a.1.envelope).collect::<Vec<_>>()
    );
    let retried: Vec<_> = attempts
        .iter()
        .filter(|(_, a)| a.envelope.recipients == ["later@example.test"])
        .collect();
    assert_eq!(
        retried.len(),
        1,
        "the deferred recipient is tried again alone"
    );
    assert!(attempts.iter().skip(1).all(|(_, a)| {
        !a.envelope
            .recipients
            .contains(&"ok@example.test".to_string())
    }));
    let notice = attempts
        .iter()
        .find(|(_, a)| a.envelope.from.is_empty())
        .unwrap();
    let text = std::fs::read_to_string(run.spool.sent_dir().join(notice.1.id.as_str())).unwrap();
    assert!(
        text.contains("bad@example.test") && !text.contains("Recipients: ok@example.test"),
        "{text}"
    );
    let log = run.spool.read_job_log(&attempts[0].1.id).unwrap();
    assert!(
        log.contains("1 recipient(s) deferred: they go on as job"),
        "{log}"
    );
    run.control.send(Control::Shutdown).await.unwrap();
    run.task.await.unwrap();
}
