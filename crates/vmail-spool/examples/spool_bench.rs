//! Figures for the spool on this disk: jobs/s of `submit` (one fsync of the
//! file and one of the queue folder per job), of `Batch` (group commit) and
//! of `ingest_many` from the drop folder, and the time to list and load a
//! queue. Not a test: it prints numbers.
//!
//! `cargo run -p vmail-spool --example spool_bench [jobs] [dir]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use vmail_core::Envelope;
use vmail_spool::Spool;

fn message(n: usize) -> Vec<u8> {
    let mut out = format!("From: a@x.org\r\nTo: b@y.org\r\nSubject: job {n}\r\n\r\n").into_bytes();
    out.resize(2048, b'x');
    out
}

fn report(what: &str, jobs: usize, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what:<40} {jobs:>6} jobs {secs:>7.3} s {:>9.0} jobs/s",
        jobs as f64 / secs
    );
}

/// Drop-to-queued latency of one drop at a time (3 fsyncs: file, queue/, in/).
fn latency_of_single_drops(spool: &Spool, count: usize) {
    let mut micros: Vec<u128> = (0..count)
        .map(|n| {
            let path = spool.in_dir().join(format!("one-{n}.eml"));
            std::fs::write(&path, message(n)).unwrap();
            let start = Instant::now();
            spool.ingest(&path, "", 1 << 20).unwrap();
            start.elapsed().as_micros()
        })
        .collect();
    micros.sort();
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "{:<40} {count:>6} jobs  p50 {:.2} ms  p99 {:.2} ms",
        "ingest of one drop at a time",
        at(0.5),
        at(0.99)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let jobs: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let base = args
        .get(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).unwrap();
    let spool = Spool::open(dir.path().join("spool")).unwrap();
    let env = Envelope::new("a@x.org", vec!["b@y.org".to_string()]);

    let start = Instant::now();
    for n in 0..jobs / 4 {
        spool.submit(&env, &message(n)[..], 1 << 20).unwrap();
    }
    report("submit, one at a time (2 KB)", jobs / 4, start);

    for size in [16, 64, 256] {
        let start = Instant::now();
        for chunk in 0..jobs / size {
            let mut batch = spool.batch();
            for n in 0..size {
                batch
                    .add(&env, &message(chunk * size + n)[..], 1 << 20)
                    .unwrap();
            }
            batch.commit().unwrap();
        }
        report(
            &format!("Batch of {size} (2 KB)"),
            jobs / size * size,
            start,
        );
    }

    for n in 0..jobs {
        let path = spool.in_dir().join(format!("{n:06}.eml"));
        std::fs::write(&path, message(n)).unwrap();
    }
    let start = Instant::now();
    let drops = spool.drops().unwrap();
    for chunk in drops.chunks(128) {
        for result in spool.ingest_many(chunk, "", 1 << 20) {
            result.unwrap();
        }
    }
    report("ingest_many of 128 .eml drops (2 KB)", drops.len(), start);

    latency_of_single_drops(&spool, 200);

    let start = Instant::now();
    let ids = spool.ids().unwrap();
    report("ids() of the queue", ids.len(), start);
    let start = Instant::now();
    let loaded = spool.jobs().unwrap().filter(|job| job.is_ok()).count();
    report("jobs(): list and load every job", loaded, start);
}
