//! What one flat `queue/` folder costs at 10,000, 100,000 and 1,000,000
//! jobs (a message file and a `.state` record each), beside the same jobs
//! in 256 hashed sub-folders (Postfix's `hash_queue_depth = 1` with two hex
//! digits, `queue/<xx>/`): the time to create them, to list them (the
//! rescan: names only), to read every state record (a walk), to delete
//! 99 % of them, then to list the 1 % left and to create 1 % anew in the
//! emptied folders (ext4 folders never shrink: a listing still reads every
//! block the folder ever had). Not a test: it prints numbers.
//!
//! `cargo run --release -p vmail-spool --example flat_queue_at_scale [dir] [sizes]`
//! (`sizes`: comma-separated, default `10000,100000,1000000`). The page
//! cache stays warm (dropping it needs privileges a container lacks), so
//! the figures are the best case; a cold cache only widens the gaps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

const MESSAGE: &[u8] = &[b'x'; 2048];
const STATE: &[u8] =
    b"attempts=3\nfirst-queued=2026-11-23T19:42:00Z\nnext-due=2026-11-23T20:42:00Z\nheld=no\n";

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Flat,
    Hashed,
}

fn id(n: usize) -> String {
    // The shape of a job id: a second-resolution stamp and 40 random bits
    // (here a multiplicative hash of n, as evenly spread).
    let random = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24;
    format!("20261123-{:06}-{random:010x}", n / 1000 % 1_000_000)
}

fn dir_of(queue: &Path, layout: Layout, id: &str) -> PathBuf {
    match layout {
        Layout::Flat => queue.to_path_buf(),
        Layout::Hashed => queue.join(&id[id.len() - 2..]),
    }
}

fn folders(queue: &Path, layout: Layout) -> Vec<PathBuf> {
    match layout {
        Layout::Flat => vec![queue.to_path_buf()],
        Layout::Hashed => (0..256).map(|n| queue.join(format!("{n:02x}"))).collect(),
    }
}

fn list(queue: &Path, layout: Layout) -> usize {
    folders(queue, layout)
        .iter()
        .map(|dir| fs::read_dir(dir).unwrap().count())
        .sum()
}

fn create(queue: &Path, layout: Layout, range: std::ops::Range<usize>) {
    for n in range {
        let id = id(n);
        let dir = dir_of(queue, layout, &id);
        fs::write(dir.join(&id), MESSAGE).unwrap();
        fs::write(dir.join(format!("{id}.state")), STATE).unwrap();
    }
}

fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

fn run(root: &Path, layout: Layout, count: usize) {
    let name = match layout {
        Layout::Flat => "flat",
        Layout::Hashed => "hashed/256",
    };
    let queue = root.join(format!("queue-{count}-{}", name.replace('/', "-")));
    fs::create_dir_all(&queue).unwrap();
    for dir in folders(&queue, layout) {
        fs::create_dir_all(dir).unwrap();
    }
    let t = Instant::now();
    create(&queue, layout, 0..count);
    let create_s = secs(t);
    let _ = std::process::Command::new("sync").status();

    let t = Instant::now();
    let names = list(&queue, layout);
    let list_s = secs(t);
    assert_eq!(names, 2 * count);

    let t = Instant::now();
    for n in 0..count {
        let id = id(n);
        let _ = fs::read(dir_of(&queue, layout, &id).join(format!("{id}.state"))).unwrap();
    }
    let walk_s = secs(t);

    let keep = count / 100;
    let t = Instant::now();
    for n in keep..count {
        let id = id(n);
        let dir = dir_of(&queue, layout, &id);
        fs::remove_file(dir.join(&id)).unwrap();
        fs::remove_file(dir.join(format!("{id}.state"))).unwrap();
    }
    let delete_s = secs(t);
    let _ = std::process::Command::new("sync").status();

    let t = Instant::now();
    let left = list(&queue, layout);
    let list_after_s = secs(t);
    assert_eq!(left, 2 * keep);

    let t = Instant::now();
    create(&queue, layout, count..count + keep);
    let recreate_s = secs(t);

    let size_kb: u64 = folders(&queue, layout)
        .iter()
        .map(|dir| fs::metadata(dir).unwrap().len() / 1024)
        .sum();
    println!(
        "{count:>8} jobs {name:<10}: create {create_s:7.2} s ({:6.1} us/job), list {list_s:6.3} s, read every state {walk_s:6.2} s, \
         delete 99 % {delete_s:6.2} s; then list the 1 % left {list_after_s:6.3} s, create 1 % anew {recreate_s:5.2} s ({:6.1} us/job); folders' size {size_kb} KB",
        create_s * 1e6 / count as f64,
        recreate_s * 1e6 / keep.max(1) as f64,
    );
    fs::remove_dir_all(&queue).unwrap();
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/flat-queue".into()));
    let sizes: Vec<usize> = args
        .next()
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    fs::create_dir_all(&root).unwrap();
    for count in sizes {
        for layout in [Layout::Flat, Layout::Hashed] {
            run(&root, layout, count);
        }
    }
}
