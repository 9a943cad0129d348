//! An administrator's hold, delete or retry made while a job is out with a
//! session is honoured when the attempt ends, never overwritten by the
//! worker that settles it. Tokio's clock is paused: an hour's backoff
//! passes at once, so "not retried" is proven over the whole hour.

use crate::common::*;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;
use vmail_core::JobId;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;
use vmail_daemon::watcher::Hint;

/// A spool with one job whose first attempt waits at the gate and then
/// gets `then`; retries an hour apart.
async fn one_job_in_an_attempt(
    then: Answer,
) -> (tempfile::TempDir, std::sync::Arc<Fake>, Running, JobId) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), HOUR, DAY);
    config.max_connections = 1;
    let fake = Fake::scripted(vec![Answer::GateThen(Box::new(then))]);
    let run = start(config, fake.clone(), Mode::Daemon);
    let id = submit(&run.spool, &["a@example.test"], "admin");
    run.rescan().await;
    wait_until("the attempt at the gate", || fake.in_gate.load(SeqCst) == 1).await;
    // The batch created the job's log (its lines come when it is settled).
    assert!(
        run.spool.log_path(&id).exists(),
        "no log created with the batch"
    );
    assert_eq!(run.spool.read_job_log(&id).unwrap(), "");
    (dir, fake, run, id)
}

/// An administrator's action while the attempt waits at the gate, the
/// hint the watcher sends when `vfxadmin` rewrites the state, then the
/// attempt's end; waits until the job's log shows `settled`.
async fn act_during_the_attempt(
    fake: &Fake,
    run: &Running,
    id: &JobId,
    action: impl FnOnce(),
    settled: &str,
) {
    action();
    run.hints
        .send(Hint::QueueChanged(id.clone()))
        .await
        .unwrap();
    fake.gate.notify_waiters();
    wait_until("the attempt settled", || {
        run.spool
            .read_job_log(id)
            .is_ok_and(|log| log.contains(settled))
    })
    .await;
}

async fn stop(run: Running) -> usize {
    run.control.send(Control::Shutdown).await.unwrap();
    run.task.await.unwrap().remaining
}

#[tokio::test(start_paused = true)]
async fn a_hold_during_the_attempt_keeps_the_job_held() {
    let (_dir, fake, run, id) = one_job_in_an_attempt(Answer::Defer(451)).await;
    let hold = || drop(run.spool.hold(&id).unwrap());
    act_during_the_attempt(&fake, &run, &id, hold, "held by an administrator").await;
    tokio::time::sleep(HOUR * 3).await;
    assert_eq!(fake.attempts().len(), 1, "a held job was tried again");
    let state = run.spool.state(&id).unwrap();
    assert!(state.held, "{state:?}");
    assert_eq!(state.attempts, 1, "the attempt is still counted");
    assert_eq!(state.last_reply.map(|r| r.code), Some(451));

    run.spool.release(&id).unwrap();
    run.hints
        .send(Hint::QueueChanged(id.clone()))
        .await
        .unwrap();
    wait_until("delivered after the release", || {
        count(&run.spool.sent_dir()) == 1
    })
    .await;
    assert_eq!(fake.attempts().len(), 2);
    assert_eq!(stop(run).await, 0);
}

#[tokio::test(start_paused = true)]
async fn a_delete_during_the_attempt_is_final() {
    let (_dir, fake, run, id) = one_job_in_an_attempt(Answer::Defer(451)).await;
    let delete = || run.spool.delete(&id).unwrap();
    let settled = "deleted from the queue during the attempt";
    act_during_the_attempt(&fake, &run, &id, delete, settled).await;
    tokio::time::sleep(HOUR * 3).await;
    assert_eq!(fake.attempts().len(), 1, "a deleted job came back");
    assert!(
        !run.spool.state_path(&id).exists(),
        "the worker wrote a state for a deleted job"
    );
    assert!(run.spool.ids().unwrap().is_empty());
    assert_eq!(stop(run).await, 0);
}

#[tokio::test(start_paused = true)]
async fn a_retry_during_the_attempt_tries_again_at_once() {
    let (_dir, fake, run, id) = one_job_in_an_attempt(Answer::Defer(451)).await;
    let retry = || drop(run.spool.retry_now(&id).unwrap());
    act_during_the_attempt(&fake, &run, &id, retry, "attempt 1 via").await;
    wait_until("the second attempt", || fake.attempts().len() == 2).await;
    let times: Vec<_> = fake.attempts().iter().map(|(at, _)| *at).collect();
    assert!(
        times[1] - times[0] < Duration::from_secs(1),
        "the retry waited for the backoff: {:?}",
        times[1] - times[0]
    );
    wait_until("delivered", || count(&run.spool.sent_dir()) == 1).await;
    assert_eq!(stop(run).await, 0);
}

#[tokio::test(start_paused = true)]
async fn without_an_action_the_backoff_holds() {
    let (_dir, fake, run, id) = one_job_in_an_attempt(Answer::Defer(451)).await;
    fake.gate.notify_waiters();
    wait_until("the attempt settled", || {
        run.spool
            .read_job_log(&id)
            .is_ok_and(|log| log.contains("next attempt at"))
    })
    .await;
    tokio::time::sleep(HOUR - Duration::from_secs(1)).await;
    assert_eq!(fake.attempts().len(), 1, "tried before the backoff");
    wait_until("the retry after an hour", || fake.attempts().len() == 2).await;
    assert_eq!(stop(run).await, 0);
}
