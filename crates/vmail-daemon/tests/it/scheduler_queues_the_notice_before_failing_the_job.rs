//! A job that fails for good has its notice queued while it is still in
//! `queue/`, and only then moves to `failed/`. The other order lost the
//! notice to a `kill -9` between the move and the notice (the crash test
//! against the real Postfix found it). Shown here without a crash: the move
//! to `failed/` cannot happen (the folder was replaced by a file), and the
//! notice is queued and sent all the same, with the job left in the queue
//! for a later try.

use crate::common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use vmail_core::Outcome;
use vmail_daemon::deliver::{Attempt, Deliver, Report, ReportSink};
use vmail_daemon::scheduler::{Inputs, Mode, Scheduler};
use vmail_daemon::worker::WorkerContext;
use vmail_spool::Spool;

/// Refuses the job with 550 after turning `failed/` into a plain file;
/// delivers anything with the null sender (the notice).
struct BreaksFailedDir {
    failed_dir: std::path::PathBuf,
    attempts: Mutex<Vec<Attempt>>,
}

impl Deliver for BreaksFailedDir {
    async fn deliver(&self, batch: Vec<Attempt>, sink: ReportSink) {
        for (index, attempt) in batch.into_iter().enumerate() {
            self.attempts.lock().unwrap().push(attempt.clone());
            let outcome = if attempt.envelope.from.is_empty() {
                Outcome::Delivered { reply: reply(250) }
            } else {
                std::fs::remove_dir(&self.failed_dir).unwrap();
                std::fs::write(&self.failed_dir, "not a folder").unwrap();
                Outcome::Failed {
                    reason: "scripted".into(),
                    reply: Some(reply(550)),
                }
            };
            sink.settle(index, Report::new(outcome)).await;
        }
    }

    fn destination(&self) -> String {
        "fake".into()
    }
}

#[tokio::test]
async fn the_notice_is_queued_before_the_job_leaves_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), TENTH, MINUTE);
    let spool = Arc::new(Spool::open(&config.spool).unwrap());
    let id = submit(&spool, &["nobody@example.test"], "doomed");
    let deliverer = Arc::new(BreaksFailedDir {
        failed_dir: spool.failed_dir(),
        attempts: Mutex::new(Vec::new()),
    });
    let (_control, control) = mpsc::channel(8);
    let (_hints, hints) = mpsc::channel(64);
    let ctx = WorkerContext {
        spool: Arc::clone(&spool),
        deliverer: Arc::clone(&deliverer),
        config: Arc::new(config),
        clock: vmail_daemon::clock::Clock::following_tokio(),
        metrics: Default::default(),
    };
    let scheduler = Scheduler::new(
        ctx,
        Inputs { hints, control },
        Box::new(|| None),
        Mode::Once,
    );
    tokio::time::timeout(Duration::from_secs(10), scheduler.run())
        .await
        .unwrap();

    let attempts = deliverer.attempts.lock().unwrap().clone();
    assert_eq!(
        attempts.len(),
        2,
        "the job, then its notice: {:?}",
        attempts.iter().map(|a| &a.envelope).collect::<Vec<_>>()
    );
    let notice = &attempts[1];
    assert!(notice.envelope.from.is_empty(), "{:?}", notice.envelope);
    assert_eq!(notice.envelope.recipients, vec!["fax@example.test"]);
    assert!(
        spool.message_path(&id).exists(),
        "the job that could not be moved stays queued"
    );
    let log = spool.read_job_log(&id).unwrap();
    let queued_at = log
        .find(&format!(
            "failure notice to <fax@example.test> queued as job {}",
            notice.id
        ))
        .unwrap_or_else(|| panic!("{log}"));
    let status_at = log
        .find("status: failed")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(queued_at < status_at, "{log}");
    assert!(log.contains("cannot move the job to failed/"), "{log}");
}
