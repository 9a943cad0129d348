//! Issue 4's benchmark: 2,000 jobs of 2 KB renamed into `spool/in` back to
//! back, delivered by the release vmaild to Debian's `smtp-sink` on
//! loopback. Prints jobs/s (last arrival against first drop), drop-to-accept
//! latency p50/p99, and vmaild's peak RSS; then the same latency with the
//! drops paced one every 20 ms, as a quiet office would send them.
//!
//! `cargo bench -p vmail-daemon --bench drop_to_smtp_sink` (needs
//! /usr/sbin/smtp-sink; `VMAIL_BENCH_JOBS` changes the 2,000).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use std::time::Duration;

fn main() {
    if !common::run_as_benchmark() {
        return;
    }
    let jobs: usize = std::env::var("VMAIL_BENCH_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let burst = run(jobs, None);
    let paced = run(200, Some(Duration::from_millis(20)));
    println!(
        "drop -> smtp-sink, {jobs} x 2 KB back to back: {:.0} jobs/s, latency p50 {:.1} ms, p99 {:.1} ms, vmaild VmHWM {} KB, {} threads",
        burst.rate, burst.p50, burst.p99, burst.hwm_kb, burst.threads
    );
    println!(
        "drop -> smtp-sink, 200 x 2 KB one every 20 ms: latency p50 {:.1} ms, p99 {:.1} ms, vmaild VmHWM {} KB",
        paced.p50, paced.p99, paced.hwm_kb
    );
}

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
    hwm_kb: u64,
    threads: u64,
}

fn run(jobs: usize, pace: Option<Duration>) -> Figures {
    let root = tempfile::tempdir().unwrap();
    let sink = Sink::start(root.path());
    write_config(root.path(), sink.port);
    let vmaild = Vmaild::start(root.path());
    vmaild.wait_ready();
    let stage = root.path().join("stage");
    std::fs::create_dir(&stage).unwrap();
    let drop_dir = root.path().join("spool/in");
    let first_drop = now_ns();
    for n in 0..jobs {
        // Written beside the spool, then renamed in: only complete files
        // are ever seen in in/.
        let staged = stage.join(format!("{n}.eml"));
        std::fs::write(&staged, message_2k(n, now_ns())).unwrap();
        std::fs::rename(&staged, drop_dir.join(format!("{n}.eml"))).unwrap();
        if let Some(pace) = pace {
            std::thread::sleep(pace);
        }
    }
    wait_until("every job at the sink", Duration::from_secs(300), || {
        sink.count() >= jobs
    });
    let (hwm_kb, threads) = vmaild.memory();
    vmaild.stop();
    let arrivals = sink.arrivals();
    sink.stop();
    let last = arrivals
        .iter()
        .map(|&(at, _)| at)
        .max()
        .unwrap_or(first_drop);
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .filter(|&&(_, sent)| sent > 0)
        .map(|&(at, sent)| at.saturating_sub(sent) as f64 / 1e6)
        .collect();
    assert_eq!(latencies.len(), jobs, "every message carries its stamp");
    latencies.sort_by(f64::total_cmp);
    Figures {
        rate: jobs as f64 / ((last - first_drop) as f64 / 1e9),
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        hwm_kb,
        threads,
    }
}
