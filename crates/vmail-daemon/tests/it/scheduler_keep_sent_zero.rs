//! `[VFXSCHED] keep-sent = 0`: delivered jobs leave sent/ (and their logs)
//! as soon as they are delivered.

use crate::common::*;
use std::time::Duration;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;

#[tokio::test]
async fn delivered_jobs_are_removed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), MINUTE, HOUR);
    config.sent_retention = Duration::ZERO;
    let fake = Fake::scripted(vec![]);
    let run = start(config, fake.clone(), Mode::Daemon);
    submit(&run.spool, &["a@example.test"], "gone");
    run.rescan().await;
    wait_until("one delivery", || fake.attempts().len() == 1).await;
    let spool = run.spool.clone();
    wait_until("sent/ emptied", || {
        count(&spool.sent_dir()) == 0 && spool.ids().unwrap().is_empty()
    })
    .await;
    run.control.send(Control::Shutdown).await.unwrap();
    run.task.await.unwrap();
}
