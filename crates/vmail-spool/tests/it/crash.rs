//! `kill -9` at random moments while a child process submits in a loop:
//! afterwards every job in the queue is complete and loadable, and recover
//! removes whatever the kills left in tmp/.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use rand::Rng;
use vmail_spool::{JobState, Spool};

use crate::{envelope, names};

const CHILD_ENV: &str = "VMAIL_SPOOL_CRASH_CHILD";

/// A message whose header states its body length, so a truncated copy shows.
fn message(len: usize) -> Vec<u8> {
    let mut out = format!("From: a@x.org\r\nTo: b@y.org\r\nX-Len: {len}\r\n\r\n").into_bytes();
    out.extend((0..len).map(|n| b'a' + (n % 26) as u8));
    out
}

/// The child that the crash test below re-executes this test binary as
/// (`--ignored --exact`, with the spool in CHILD_ENV): not a test of its
/// own, so it is ignored in a normal run rather than passing empty.
#[test]
#[ignore = "the child process of crash::kill_9_at_random_moments_loses_no_complete_job, which runs it"]
fn child_submits_until_killed() {
    let root = std::env::var(CHILD_ENV).expect("run by the crash test, which names the spool");
    let spool = Spool::open(root).unwrap();
    let env = envelope("a@x.org", &["b@y.org", "c@y.org"]);
    let mut rng = rand::thread_rng();
    loop {
        match rng.gen_range(0..4) {
            0 => {
                let mut batch = spool.batch();
                for _ in 0..rng.gen_range(2..6) {
                    batch
                        .add(&env, &message(rng.gen_range(0..50_000))[..], 1 << 20)
                        .unwrap();
                }
                batch.commit().unwrap();
            }
            1 => {
                if let Some(id) = spool.ids().unwrap().pop() {
                    let mut state = JobState::fresh(SystemTime::now());
                    state.attempts = rng.gen_range(1..100);
                    spool.record_attempt(&id, &state).unwrap();
                }
            }
            _ => {
                spool
                    .submit(&env, &message(rng.gen_range(0..300_000))[..], 1 << 20)
                    .unwrap();
            }
        }
    }
}

fn check_job(spool: &Spool, job: &vmail_spool::QueuedJob) {
    assert_eq!(job.envelope.recipients, vec!["b@y.org", "c@y.org"]);
    let mut text = String::new();
    spool
        .open_message(&job.id)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let (header, body) = text.split_once("\r\n\r\n").unwrap();
    let len: usize = header.split("X-Len: ").nth(1).unwrap().parse().unwrap();
    assert_eq!(body.len(), len, "job {} is truncated", job.id);
    assert_eq!(job.size as usize, text.len());
}

#[test]
fn kill_9_at_random_moments_loses_no_complete_job() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("spool");
    let spool = Spool::open(&root).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::thread_rng();
    for _ in 0..50 {
        let mut child = Command::new(&exe)
            .args([
                "crash::child_submits_until_killed",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, &root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Not a wait for something to happen: the random moment of the kill.
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..60)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let spool = Spool::open(spool.root()).unwrap();
    let recovery = spool.recover().unwrap();
    assert!(names(&spool.tmp_dir()).is_empty());
    let jobs: Vec<_> = spool.jobs().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(jobs.len(), recovery.queued);
    assert!(!jobs.is_empty(), "the children queued nothing in 50 runs");
    for job in &jobs {
        check_job(&spool, job);
    }
    eprintln!(
        "{} jobs, {} temp files removed",
        jobs.len(),
        recovery.temp_removed
    );
}
