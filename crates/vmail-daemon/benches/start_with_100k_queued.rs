//! Issue 6's start-up benchmark: 100,000 jobs already in the queue (written
//! with the spool's own group commit, as vfx and the shim would have left
//! them while vmaild was down), then vmaild starts. Prints the time from the
//! start to the first message at Debian's `smtp-sink`, to "ready" (the
//! whole queue indexed), the deliveries of the first five seconds, and
//! vmaild's peak RSS. The goal: first delivery within 2 s.
//!
//! `cargo bench -p vmail-daemon --bench start_with_100k_queued`
//! (`VMAIL_BENCH_QUEUED` changes the 100,000).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use std::time::{Duration, Instant};
use vmail_core::Envelope;

fn main() {
    if !common::run_as_benchmark() {
        return;
    }
    let queued: usize = std::env::var("VMAIL_BENCH_QUEUED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let root = tempfile::tempdir().unwrap();
    let sink = Sink::start(root.path());
    write_config(root.path(), sink.port);
    let filled = Instant::now();
    fill(&root.path().join("spool"), queued);
    eprintln!(
        "queued {queued} jobs in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    // Cold-ish: what was written is flushed, as after a reboot's fsck.
    let _ = std::process::Command::new("sync").status();

    let started = Instant::now();
    let vmaild = Vmaild::start(root.path());
    wait_until("the first delivery", Duration::from_secs(120), || {
        sink.count() > 0
    });
    let first = started.elapsed();
    vmaild.wait_ready();
    let ready = started.elapsed();
    std::thread::sleep(Duration::from_secs(5).saturating_sub(started.elapsed()));
    let in_five = sink.count();
    let (hwm_kb, threads) = vmaild.memory();
    vmaild.stop();
    sink.stop();
    println!(
        "start with {queued} queued: first delivery {:.3} s after the start, ready (queue indexed) {:.3} s, {in_five} delivered in the first 5 s, vmaild VmHWM {hwm_kb} KB, {threads} threads",
        first.as_secs_f64(),
        ready.as_secs_f64(),
    );
}

/// `count` 2 KB jobs in group commits of 1,000.
fn fill(spool: &std::path::Path, count: usize) {
    let spool = vmail_spool::Spool::open(spool).unwrap();
    let envelope = Envelope::new("bench@bench.test", vec!["sink@bench.test".to_string()]);
    let mut n = 0;
    while n < count {
        let mut batch = spool.batch();
        for _ in 0..1_000.min(count - n) {
            batch
                .add(&envelope, message_2k(n, 0).as_bytes(), u64::MAX)
                .unwrap();
            n += 1;
        }
        batch.commit().unwrap();
    }
}
