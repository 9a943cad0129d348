//! What the metrics endpoint costs the drain: 2,000 queued jobs of 2 KB
//! delivered by the release vmaild to Debian's `smtp-sink`, without
//! `metrics-listen`, and with it while a scraper asks for `/metrics` every
//! 100 ms (a hundred times Prometheus' usual rate; every scrape past the
//! census interval reads the whole queue). The runs interleave, so a slow
//! drift of the machine hits both alike; prints each run and the ratio of
//! the medians.
//!
//! `cargo bench -p vmail-daemon --bench metrics_cost` (needs
//! /usr/sbin/smtp-sink; `VMAIL_BENCH_JOBS`, `VMAIL_BENCH_RUNS`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !common::run_as_benchmark() {
        return;
    }
    let jobs = env_or("VMAIL_BENCH_JOBS", 2_000);
    let runs = env_or("VMAIL_BENCH_RUNS", 3);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 1..=runs {
        let plain = drain(jobs, false);
        println!("run {round}: metrics off: {:.0} jobs/s", plain.0);
        off.push(plain.0);
        let (rate, scrapes) = drain(jobs, true);
        println!("run {round}: metrics on, {scrapes} scrapes: {rate:.0} jobs/s");
        on.push(rate);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (off, on) = (median(&mut off), median(&mut on));
    println!(
        "drain of {jobs} x 2 KB to smtp-sink, median of {runs}: metrics off {off:.0} jobs/s, \
         metrics on + scrape every 100 ms {on:.0} jobs/s, ratio on/off {:.3}",
        on / off
    );
}

/// Queues `jobs` while vmaild is stopped, starts it, and times the drain
/// from the start to the last arrival; returns jobs/s and the scrapes made.
fn drain(jobs: usize, metrics: bool) -> (f64, usize) {
    let root = tempfile::tempdir().unwrap();
    let sink = Sink::start(root.path());
    write_config(root.path(), sink.port);
    let port = free_port();
    if metrics {
        let ini = root.path().join("vsisrv.ini");
        let text = std::fs::read_to_string(&ini).unwrap();
        let text = text.replace(
            "[VFXSCHED]",
            &format!("metrics-listen = 127.0.0.1:{port}\n[VFXSCHED]"),
        );
        std::fs::write(&ini, text).unwrap();
    }
    let spool = vmail_spool::Spool::open(root.path().join("spool")).unwrap();
    let envelope = vmail_core::Envelope::new("bench@bench.test", vec!["sink@bench.test".into()]);
    for n in 0..jobs {
        spool
            .submit(&envelope, message_2k(n, now_ns()).as_bytes(), u64::MAX)
            .unwrap();
    }
    let start_ns = now_ns();
    let vmaild = Vmaild::start(root.path());
    let stop = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicUsize::new(0));
    let scraper = metrics.then(|| {
        let (stop, scrapes) = (Arc::clone(&stop), Arc::clone(&scrapes));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if scrape(port) {
                    scrapes.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    });
    wait_until("the drain", Duration::from_secs(300), || {
        sink.count() >= jobs
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(scraper) = scraper {
        scraper.join().unwrap();
    }
    let last = sink.arrivals().iter().map(|(at, _)| *at).max().unwrap();
    vmaild.stop();
    sink.stop();
    let seconds = (last - start_ns) as f64 / 1e9;
    (jobs as f64 / seconds, scrapes.load(Ordering::Relaxed))
}

/// One `GET /metrics`; false until the endpoint listens.
fn scrape(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}
