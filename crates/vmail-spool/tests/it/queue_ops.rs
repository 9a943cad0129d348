use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use vmail_core::{EnhancedCode, JobId, Reply};
use vmail_spool::{JobState, LogLines, SpoolError};

use crate::{envelope, names, spool};

fn submit_one(spool: &vmail_spool::Spool) -> JobId {
    spool
        .submit(
            &envelope("a@x.org", &["b@y.org"]),
            &b"Subject: t\n\nbody\n"[..],
            100,
        )
        .unwrap()
}

#[test]
fn a_state_rewrite_is_never_seen_half_written() {
    let (_dir, spool) = spool();
    let id = submit_one(&spool);
    let state_path = spool.state_path(&id);
    spool
        .record_attempt(&id, &JobState::fresh(SystemTime::now()))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, path) = (stop.clone(), state_path.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let text = std::fs::read_to_string(&path).unwrap();
                JobState::read(&text).unwrap();
                reads += 1;
            }
            reads
        })
    };
    let first_inode = std::fs::metadata(&state_path).unwrap().ino();
    // Held open, the first record's inode cannot be freed and handed to a
    // later rewrite, which would make the inode check below pass or fail
    // by the allocator's whim.
    let _first = std::fs::File::open(&state_path).unwrap();
    let reply = Reply::new(
        451,
        Some(EnhancedCode::new(4, 7, 1)),
        "Greylisted ".repeat(400),
    );
    let mut state = JobState::fresh(SystemTime::now());
    for attempt in 1..=200 {
        state.attempts = attempt;
        state.last_reply = Some(reply.clone());
        spool.record_attempt(&id, &state).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    // Each rewrite is a new file renamed over the old (a new inode), written in tmp/.
    assert_ne!(std::fs::metadata(&state_path).unwrap().ino(), first_inode);
    assert!(names(&spool.tmp_dir()).is_empty());
    assert_eq!(
        names(&spool.queue_dir()),
        vec![id.to_string(), format!("{id}.state")]
    );
    let back = spool.load(&id).unwrap().state;
    assert_eq!((back.attempts, back.last_reply), (200, Some(reply)));
}

#[test]
fn a_corrupt_state_is_a_value_and_the_message_is_kept() {
    let (_dir, spool) = spool();
    let bad = submit_one(&spool);
    let good = submit_one(&spool);
    std::fs::write(spool.state_path(&bad), "attempts=lots\n").unwrap();

    let results: Vec<_> = spool.jobs().unwrap().collect();
    assert_eq!(results.len(), 2);
    let corrupt = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(corrupt.id.as_ref(), Some(&bad));
    assert_eq!(
        corrupt.to_string(),
        format!(
            "{}: bad state record (line 1 (attempts): `lots` is not a number); the message is kept",
            spool.state_path(&bad).display()
        )
    );
    assert!(
        results
            .iter()
            .any(|r| r.as_ref().is_ok_and(|j| j.id == good))
    );
    assert!(spool.message_path(&bad).exists());

    let moved = spool.quarantine_state(&bad).unwrap();
    assert!(moved.exists());
    let job = spool.load(&bad).unwrap();
    assert_eq!(job.state.attempts, 0);
}

#[test]
fn hold_release_retry_and_delete() {
    let (_dir, spool) = spool();
    let id = submit_one(&spool);
    let now = SystemTime::now();
    assert!(spool.hold(&id).unwrap().held);
    assert!(!spool.load(&id).unwrap().state.is_due(now));
    assert!(!spool.release(&id).unwrap().held);

    let mut later = spool.state(&id).unwrap();
    later.next_due = Some(now + Duration::from_secs(3600));
    spool.record_attempt(&id, &later).unwrap();
    assert!(!spool.state(&id).unwrap().is_due(now));
    assert!(spool.retry_now(&id).unwrap().is_due(now));

    spool.delete(&id).unwrap();
    assert!(names(&spool.queue_dir()).is_empty());
    let err = spool.delete(&id).unwrap_err();
    assert!(err.is_unknown_job());
    assert_eq!(
        err.to_string(),
        format!("no job {id} in the queue of {}", spool.root().display())
    );
}

#[test]
fn unknown_ids_are_named_and_ids_cannot_escape_the_spool() {
    let (_dir, spool) = spool();
    let id = JobId::parse("20261123-000000-0000000000").unwrap();
    for err in [
        spool.load(&id).unwrap_err(),
        spool.open_message(&id).unwrap_err(),
        spool.hold(&id).unwrap_err(),
        spool.finish_sent(&id).unwrap_err(),
        spool
            .record_attempt(&id, &JobState::fresh(SystemTime::now()))
            .unwrap_err(),
    ] {
        assert_eq!(
            err.to_string(),
            format!(
                "no job 20261123-000000-0000000000 in the queue of {}",
                spool.root().display()
            )
        );
    }
    let err: SpoolError = JobId::parse("../../etc/passwd").unwrap_err().into();
    assert_eq!(
        err.to_string(),
        "`../../etc/passwd` is not a job id (letters, digits, '-' and '_', 1 to 64 characters)"
    );
    // Stray names in queue/ are not jobs.
    std::fs::write(spool.queue_dir().join("..hidden"), b"x").unwrap();
    std::fs::write(spool.queue_dir().join("notes.txt"), b"x").unwrap();
    assert!(spool.ids().unwrap().is_empty());
}

#[test]
fn finished_jobs_move_with_their_state_and_old_sent_jobs_are_purged() {
    let (_dir, spool) = spool();
    let sent = submit_one(&spool);
    let failed = submit_one(&spool);
    spool.hold(&failed).unwrap();
    spool
        .job_log(&sent)
        .unwrap()
        .append("delivered: 250 2.0.0 Ok")
        .unwrap();

    let dest = spool.finish_sent(&sent).unwrap();
    assert_eq!(dest, spool.sent_dir().join(sent.as_str()));
    spool.finish_failed(&failed).unwrap();
    assert!(names(&spool.queue_dir()).is_empty());
    assert_eq!(
        names(&spool.failed_dir()),
        vec![failed.to_string(), format!("{failed}.state")]
    );

    assert_eq!(spool.purge_sent(Duration::from_secs(3600)).unwrap(), 0);
    assert_eq!(spool.purge_sent(Duration::ZERO).unwrap(), 1);
    assert!(names(&spool.sent_dir()).is_empty());
    assert!(!spool.log_path(&sent).exists());
}

#[test]
fn a_job_log_gets_one_timestamped_line_per_event() {
    let (_dir, spool) = spool();
    let id = submit_one(&spool);
    let mut log = spool.job_log(&id).unwrap();
    log.append("queued for b@y.org").unwrap();
    log.append("deferred: 421 busy\ntry later").unwrap();
    let text = spool.read_job_log(&id).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with("Z queued for b@y.org"), "{text}");
    assert!(
        lines[1].ends_with("Z deferred: 421 busy / try later"),
        "{text}"
    );
    assert!(lines[0].starts_with("20"));
    let mode = std::fs::metadata(log.path()).unwrap().mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn gathered_log_lines_are_written_together_each_with_its_own_time() {
    let (_dir, spool) = spool();
    let id = submit_one(&spool);
    let mut log = spool.job_log(&id).unwrap();
    let mut lines = LogLines::default();
    assert!(lines.is_empty());
    lines.stamped("2026-11-23T19:42:00.123Z submitted by vfx\tas root");
    lines.line("attempt 1: deferred: 421 busy\r\ntry later");
    assert!(
        spool.read_job_log(&id).unwrap().is_empty(),
        "nothing before the write"
    );
    log.append_lines(&mut lines).unwrap();
    assert!(lines.is_empty(), "written lines are not written twice");
    log.append_lines(&mut lines).unwrap();
    log.append("status: delivered").unwrap();
    let text = spool.read_job_log(&id).unwrap();
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got.len(), 3, "{text}");
    assert_eq!(got[0], "2026-11-23T19:42:00.123Z submitted by vfx as root");
    assert!(
        got[1].ends_with("Z attempt 1: deferred: 421 busy / try later"),
        "{text}"
    );
    assert!(
        got[1].starts_with("20") && got[2].ends_with("Z status: delivered"),
        "{text}"
    );
}

#[test]
fn a_corrupt_message_file_is_set_aside_with_its_state() {
    let (_dir, spool) = spool();
    let id = submit_one(&spool);
    spool.hold(&id).unwrap();
    std::fs::write(spool.message_path(&id), b"no envelope here").unwrap();
    let corrupt = spool.jobs().unwrap().next().unwrap().unwrap_err();
    assert_eq!(
        corrupt.to_string(),
        format!(
            "{}: bad queue entry: the envelope has no end (no blank line before the message)",
            spool.message_path(&id).display()
        )
    );
    let moved = spool.set_aside(&corrupt).unwrap();
    assert_eq!(
        moved.quarantined,
        Some(spool.quarantine_dir().join(id.as_str()))
    );
    assert!(names(&spool.queue_dir()).is_empty());
    assert_eq!(
        names(&spool.quarantine_dir()),
        vec![
            id.to_string(),
            format!("{id}.reason"),
            format!("{id}.state")
        ]
    );
}

/// The job lock: an administrator's hold waits for a worker that settles
/// the job, and goes through once the worker's lock is dropped, even while
/// another duplicate of the worker's file (the deliverer's) stays open.
#[test]
fn a_hold_waits_for_the_settling_worker_and_then_goes_through() {
    let (_dir, spool) = spool();
    let id = submit_one(&spool);
    let (_job, file) = spool.load_open(&id).unwrap();
    let deliverers_copy = file.try_clone().unwrap();
    let lock = spool.lock_opened(&id, file).unwrap();
    let spool = Arc::new(spool);
    let (done_tx, done) = std::sync::mpsc::channel();
    let holder = {
        let spool = Arc::clone(&spool);
        let id = id.clone();
        std::thread::spawn(move || done_tx.send(spool.hold(&id).map(|s| s.held)).unwrap())
    };
    assert!(
        done.recv_timeout(Duration::from_millis(300)).is_err(),
        "the hold did not wait for the lock"
    );
    drop(lock);
    let held = done
        .recv_timeout(Duration::from_secs(10))
        .expect("the hold still waits after the worker dropped its lock");
    assert!(held.unwrap());
    holder.join().unwrap();
    drop(deliverers_copy);

    // Deleted while a holder waited (or before it came: either way) the
    // waiter is told the job is gone, and writes nothing.
    let lock = spool.lock_job(&id).unwrap();
    let deleter = {
        let spool = Arc::clone(&spool);
        let id = id.clone();
        std::thread::spawn(move || spool.delete(&id))
    };
    std::fs::remove_file(spool.message_path(&id)).unwrap();
    drop(lock);
    assert!(matches!(
        deleter.join().unwrap(),
        Err(SpoolError::UnknownJob { .. })
    ));
    assert!(!spool.state_path(&id).exists() || spool.state(&id).is_err());
}
