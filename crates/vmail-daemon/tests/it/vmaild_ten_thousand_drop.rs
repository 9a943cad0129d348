//! 10,000 messages renamed into `in/` at once, faster than the watcher can
//! read its events: every one of them is delivered, each exactly once,
//! within a bounded wait. The second test makes sure the kernel's event
//! queue overflows (vmaild is stopped with SIGSTOP while the queue fills
//! with events it ignores, then the 10,000 renames are all lost): only the
//! overflow-triggered rescan of `in/` can find them.
use crate::common::daemon;

use daemon::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const JOBS: usize = 10_000;
/// Well over what a run takes (about 8 s on 2 cores, debug build).
const BOUND: Duration = Duration::from_secs(120);
/// For the lost events: under the daemon's 60 s slow rescan, so only the
/// rescan the overflow triggers can pass the test.
const BOUND_WITHOUT_SLOW_RESCAN: Duration = Duration::from_secs(50);

/// Four blocking threads, main (which runs the scheduler and the sessions),
/// the watcher's, and a few to spare for the libraries' own.
const MAX_THREADS: usize = 4 + 2 + 4;

fn threads_of(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

fn count_captures(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("capture"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                .count()
        })
        .unwrap_or(0)
}

/// Writes the 10,000 messages beside the spool (same file system), so that
/// only the renames race the watcher.
fn stage(dir: &Path) -> std::path::PathBuf {
    let stage = dir.join("stage");
    std::fs::create_dir(&stage).unwrap();
    for n in 0..JOBS {
        std::fs::write(stage.join(format!("m{n:05}.eml")), eml(&format!("m{n:05}"))).unwrap();
    }
    stage
}

fn rename_all_in(stage: &Path, spool: &Path) {
    for n in 0..JOBS {
        let name = format!("m{n:05}.eml");
        std::fs::rename(stage.join(&name), spool.join("in").join(&name)).unwrap();
    }
}

#[test]
fn ten_thousand_files_renamed_in_at_once_are_all_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let vmaild = Daemon::capture(dir.path(), "");
    let spool = vmaild.spool();
    let stage = stage(dir.path());
    let started = Instant::now();
    rename_all_in(&stage, &spool);
    let renamed = started.elapsed();
    let took = wait_for_all(dir.path(), &vmaild, started, BOUND);
    // Idle blocking threads live 10 s, so the burst's threads are still
    // there: 10,000 watch events must not have become one thread each (the
    // pool once grew to 260 threads and ~4 MB more memory here).
    let threads = threads_of(vmaild.pid());
    check_each_once(dir.path(), vmaild);
    eprintln!(
        "{JOBS} drops: renamed in {:.2} s, all delivered {:.1} s after the first rename ({:.0} jobs/s), {threads} threads",
        renamed.as_secs_f64(),
        took.as_secs_f64(),
        JOBS as f64 / took.as_secs_f64(),
    );
    assert!(
        threads <= MAX_THREADS,
        "vmaild has {threads} threads after the burst (at most {MAX_THREADS}: 4 blocking, main, the watcher's, a few spare)"
    );
}

#[test]
fn renames_lost_to_an_inotify_overflow_are_found_by_the_rescan() {
    let Some(queue_limit) = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
    else {
        eprintln!("SKIPPED: /proc/sys/fs/inotify/max_queued_events is not readable");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let vmaild = Daemon::capture(dir.path(), "");
    let spool = vmaild.spool();
    let stage = stage(dir.path());

    // While vmaild cannot read, fill its inotify queue with events it
    // ignores (dot-files: create, close-write and delete, 3 events each)
    // until the kernel must drop events; every rename after that is lost.
    vmaild.signal("STOP");
    let noise = queue_limit / 3 + 100;
    for n in 0..noise {
        let path = spool.join("in").join(format!(".noise-{n}"));
        std::fs::write(&path, b"x").unwrap();
        std::fs::remove_file(&path).unwrap();
    }
    let started = Instant::now();
    rename_all_in(&stage, &spool);
    vmaild.signal("CONT");

    let took = wait_for_all(dir.path(), &vmaild, started, BOUND_WITHOUT_SLOW_RESCAN);
    let log = vmaild.log();
    assert!(
        log.contains("events were lost"),
        "the scheduler logged the rescan:\n{log}"
    );
    check_each_once(dir.path(), vmaild);
    eprintln!(
        "{JOBS} drops whose events were all lost ({} noise events > queue of {queue_limit}): all delivered {:.1} s after the first rename",
        3 * noise,
        took.as_secs_f64()
    );
}

/// Polls, for at most `bound`, until every job has been captured; returns
/// the time since `started`.
fn wait_for_all(dir: &Path, vmaild: &Daemon, started: Instant, bound: Duration) -> Duration {
    let spool = dir.join("spool");
    let deadline = started + bound;
    let mut delivered = 0;
    while delivered < JOBS {
        assert!(
            Instant::now() < deadline,
            "only {delivered} of {JOBS} delivered after {} s; {} left in in/\n{}",
            bound.as_secs(),
            std::fs::read_dir(spool.join("in")).unwrap().count(),
            vmaild.log()
        );
        std::thread::sleep(Duration::from_millis(250));
        delivered = count_captures(dir);
    }
    started.elapsed()
}

fn check_each_once(dir: &Path, vmaild: Daemon) {
    assert!(vmaild.stop().success());
    let spool = dir.join("spool");
    let text = captured_text(dir);
    let ids: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("Message-ID:"))
        .collect();
    assert_eq!(ids.len(), JOBS, "every message, each once");
    assert_eq!(count_captures(dir), JOBS, "no message twice");
    assert_eq!(std::fs::read_dir(spool.join("in")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(spool.join("quarantine")).unwrap().count(),
        0
    );
}
