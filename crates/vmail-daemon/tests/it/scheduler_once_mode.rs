//! `vmaild --once`: deliver what is due, then stop and say what is left.

use crate::common::*;
use vmail_daemon::scheduler::Mode;

#[tokio::test]
async fn once_delivers_what_is_due_and_counts_what_remains() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), HOUR, DAY);
    let fake = Fake::scripted(vec![Answer::Deliver, Answer::Defer(451)]);
    let spool = vmail_spool::Spool::open(&config.spool).unwrap();
    submit(&spool, &["a@example.test"], "a");
    submit(&spool, &["b@example.test"], "b");
    std::fs::write(spool.in_dir().join("c.eml"), message("c")).unwrap();
    let run = start(config, fake.clone(), Mode::Once);
    let exit = exit_of(run.task).await;
    assert_eq!(fake.attempts().len(), 3, "two queued jobs and one drop");
    assert_eq!(exit.remaining, 1, "the deferred job remains");
    assert_eq!(count(&run.spool.sent_dir()), 2);
}
