//! vfx and the sendmail shim write a job in `tmp/` and link it into
//! `queue/` without the daemon's lock. vmaild empties `tmp/` when it starts;
//! it used to take their half-written files too, and the submit failed with
//! "cannot queue .../tmp/...: No such file or directory" (some 50 submits in
//! 60 restarts). Here one thread submits without pause while vmaild is
//! started 30 times: no submit may fail, and every job queued is delivered.
use crate::common::daemon;

use daemon::{wait_for, write_config};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use vmail_core::{Envelope, JobId};
use vmail_spool::Spool;

const RESTARTS: usize = 30;

/// A running vmaild, SIGKILLed by its PID and reaped when dropped.
struct Vmaild(Child);

impl Drop for Vmaild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts vmaild and waits, bounded, for a `ready:` it wrote after `from`
/// bytes of its log (the log keeps the earlier runs' lines).
fn start_ready(dir: &Path) -> Vmaild {
    let log = dir.join("spool/logs/vmail");
    let from = std::fs::metadata(&log).map_or(0, |m| m.len()) as usize;
    let vmaild = Vmaild(
        Command::new(env!("CARGO_BIN_EXE_vmaild"))
            .arg("--config")
            .arg(dir.join("vsisrv.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read(&log).unwrap_or_default();
        if text.len() > from && String::from_utf8_lossy(&text[from..]).contains("ready:") {
            return vmaild;
        }
        assert!(
            Instant::now() < deadline,
            "vmaild printed no `ready:` within 20 s"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_starting_vmaild_leaves_a_submit_in_progress_alone() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "");
    let root = dir.path().join("spool");
    let spool = Spool::open(&root).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let queued: Arc<Mutex<Vec<JobId>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let submitter = {
        let (stop, queued, errors, spool) = (
            Arc::clone(&stop),
            Arc::clone(&queued),
            Arc::clone(&errors),
            spool.clone(),
        );
        thread::spawn(move || {
            let envelope = Envelope::new("fax@example.test", vec!["ann@example.test".into()]);
            // Large enough that the write and its fsync take a while.
            let mut message =
                b"From: fax@example.test\nTo: ann@example.test\nSubject: s\n\n".to_vec();
            message.extend(std::iter::repeat_n(b'x', 50_000));
            // Bounded: at most this many submits, or until the restarts end.
            for _ in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match spool.submit(&envelope, message.as_slice(), u64::MAX) {
                    Ok(id) => queued.lock().unwrap().push(id),
                    Err(err) => errors.lock().unwrap().push(err.to_string()),
                }
            }
        })
    };
    for _ in 0..RESTARTS {
        drop(start_ready(dir.path()));
    }
    stop.store(true, Ordering::Relaxed);
    submitter.join().unwrap();
    let errors = errors.lock().unwrap().clone();
    let queued = queued.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "{} of {} submits failed while vmaild started {RESTARTS} times, first: {:?}",
        errors.len(),
        errors.len() + queued.len(),
        errors.first()
    );
    assert!(!queued.is_empty());

    // Every job queued meanwhile is delivered by one more run.
    let vmaild = start_ready(dir.path());
    wait_for(
        "every submitted job in sent/",
        || {
            queued
                .iter()
                .all(|id| root.join("sent").join(id.as_str()).exists())
        },
        || std::fs::read_to_string(root.join("logs/vmail")).unwrap_or_default(),
    );
    drop(vmaild);
    eprintln!(
        "{} submits during {RESTARTS} starts of vmaild, none failed",
        queued.len()
    );
}
