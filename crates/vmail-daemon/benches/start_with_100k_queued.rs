//! Issue 6's start-up benchmark, grown for issue 15: jobs already in the
//! queue (written with the spool's own group commit, as vfx and the shim
//! would have left them while vmaild was down), then vmaild starts, on
//! Debian's `smtp-sink`. One run measures 10,000, 100,000 and 1,000,000
//! queued jobs (`VMAIL_BENCH_QUEUED=10000,100000` picks others), each right
//! after a peer of 2,000, each on a fresh spool, and prints for each: the
//! time from the start to the first message at the sink and to "ready",
//! vmaild's peak RSS (VmHWM) once the first 50,000 (or all) are delivered,
//! and the sustained drain: deliveries per second from the 10th percent of
//! those to the last, beside the peer's rate. Then, when the release
//! vfxadmin is built (`cargo build --release -p vmail-cli`), `vfxadmin
//! queue list` on what stayed queued: its first line, its end, its RSS.
//!
//! Goals (issue 15): at a million queued, peak RSS at most 48 MB, first
//! delivery within 1 s, drain within 15 % of the 2,000-job drain.
//!
//! `cargo bench -p vmail-daemon --bench start_with_100k_queued`
//! Each spool is made under `$TMPDIR` (a million 2 KB jobs take some
//! 5 GB with the file system's overhead) and removed after its run.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use std::time::{Duration, Instant};
use vmail_core::Envelope;

/// The drain is timed over this many deliveries at most, so that a million
/// queued jobs are not all sent.
const DRAIN_SAMPLE: usize = 50_000;
const PEER: usize = 2_000;

struct Figures {
    queued: usize,
    fill_s: f64,
    first_s: f64,
    ready_s: f64,
    hwm_kb: u64,
    rate: f64,
    /// `vfxadmin queue list` on what stayed queued, when measured.
    list: Option<String>,
}

fn main() {
    if !common::run_as_benchmark() {
        return;
    }
    let sizes: Vec<usize> = std::env::var("VMAIL_BENCH_QUEUED")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    // The peer runs again right before each size: on a shared machine the
    // sink's pace drifts, and each size is compared with its neighbour.
    for queued in sizes {
        let peer_rate = run(PEER, None);
        run(queued, Some(peer_rate));
    }
}

fn report(f: &Figures, peer_rate: f64) {
    println!(
        "start with {:>9} queued: first delivery {:.3} s, ready {:.3} s, vmaild VmHWM {:>7} KB ({:.1} MB), drain {:.0} jobs/s = {:.2} x the {PEER}-job drain (queued in {:.1} s)",
        f.queued,
        f.first_s,
        f.ready_s,
        f.hwm_kb,
        f.hwm_kb as f64 / 1024.0,
        f.rate,
        f.rate / peer_rate,
        f.fill_s,
    );
    if let Some(list) = &f.list {
        println!("  {list}");
    }
}

/// Measures `queued` jobs and prints the figures (beside `peer_rate`, or
/// its own rate for the peer) before the spool is removed, which takes
/// minutes at a million; returns the drain rate.
fn run(queued: usize, peer_rate: Option<f64>) -> f64 {
    let root = tempfile::tempdir().unwrap();
    let sink = Sink::start(root.path());
    write_config(root.path(), sink.port);
    let filled = Instant::now();
    fill(&root.path().join("spool"), queued);
    let fill_s = filled.elapsed().as_secs_f64();
    // Cold-ish: what was written is flushed, as after a reboot's fsck.
    let _ = std::process::Command::new("sync").status();

    let started = Instant::now();
    let vmaild = Vmaild::start(root.path());
    wait_until("the first delivery", Duration::from_secs(120), || {
        sink.count() > 0
    });
    let first_s = started.elapsed().as_secs_f64();
    vmaild.wait_ready();
    let ready_s = started.elapsed().as_secs_f64();
    let sample = queued.min(DRAIN_SAMPLE);
    wait_until("the drain sample", Duration::from_secs(600), || {
        sink.count() >= sample
    });
    let (hwm_kb, _threads) = vmaild.memory();
    vmaild.stop();
    let list = list_with_vfxadmin(root.path());
    let mut arrivals: Vec<u128> = sink.arrivals().into_iter().map(|(at, _)| at).collect();
    sink.stop();
    arrivals.sort_unstable();
    arrivals.truncate(sample);
    let from = sample / 10;
    let span_s = (arrivals[sample - 1] - arrivals[from]) as f64 / 1e9;
    let rate = (sample - 1 - from) as f64 / span_s.max(1e-9);
    let figures = Figures {
        queued,
        fill_s,
        first_s,
        ready_s,
        hwm_kb,
        rate,
        list,
    };
    report(&figures, peer_rate.unwrap_or(rate));
    eprintln!("{queued} queued: measured; removing the spool");
    rate
}

/// `vfxadmin queue list` on what is left queued: the time to its first
/// line and to its last, and its peak RSS (by `/usr/bin/time`). Needs the
/// release vfxadmin beside vmaild (`cargo build --release -p vmail-cli`).
fn list_with_vfxadmin(dir: &std::path::Path) -> Option<String> {
    use std::io::BufRead;
    let vfxadmin = std::path::Path::new(env!("CARGO_BIN_EXE_vmaild")).with_file_name("vfxadmin");
    if !vfxadmin.exists() || !std::path::Path::new("/usr/bin/time").exists() {
        return Some(format!(
            "(no {} or /usr/bin/time: `queue list` not measured)",
            vfxadmin.display()
        ));
    }
    let rss_file = dir.join("list.rss");
    let started = Instant::now();
    let mut child = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(&vfxadmin)
        .arg("-c")
        .arg(dir.join("vsisrv.ini"))
        .args(["queue", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let _header = lines.next();
    let _first_job = lines.next();
    let first = started.elapsed().as_secs_f64();
    let rows = lines.count();
    child.wait().unwrap();
    let all = started.elapsed().as_secs_f64();
    let rss_kb = std::fs::read_to_string(&rss_file).unwrap_or_default();
    Some(format!(
        "vfxadmin queue list on what stayed queued: first job line {first:.3} s, {rows} lines in {all:.2} s, peak RSS {} KB",
        rss_kb.trim()
    ))
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
