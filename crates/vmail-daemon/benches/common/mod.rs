//! What both benchmarks share: Debian's `smtp-sink` on a loopback port with
//! every arrival timestamped by inotify, the release `vmaild` on a config for
//! it, and figures read from `/proc`. Every process started here is stopped
//! by its PID; every wait is bounded.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
/// binary without it, and a benchmark has no place in the test suite's time.
pub fn run_as_benchmark() -> bool {
    if std::env::args().any(|arg| arg == "--bench") {
        return true;
    }
    eprintln!("a benchmark: run it with `cargo bench -p vmail-daemon`");
    false
}

pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// `smtp-sink` dumping each message into its own file; the close of that
/// file is the arrival, stamped on the wall clock the moment inotify says so
/// (a file's mtime is only as fine as the kernel's tick).
pub struct Sink {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    arrivals: Arc<Mutex<HashMap<PathBuf, u128>>>,
    _watcher: notify::RecommendedWatcher,
}

impl Sink {
    pub fn start(root: &Path) -> Sink {
        assert!(
            Path::new(SMTP_SINK).exists(),
            "{SMTP_SINK} is missing: install Debian's postfix (tests/servers/start.sh does)"
        );
        let dir = root.join("sink");
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let arrivals = Arc::new(Mutex::new(HashMap::new()));
        let watcher = watch_arrivals(&dir, Arc::clone(&arrivals));
        let mut command = Command::new(SMTP_SINK);
        // smtp-sink refuses to run as root without a user to switch to; that
        // user must be able to write the dump folder.
        if is_root() {
            command.args(["-u", "nobody"]);
            set_mode(root, 0o755);
            set_mode(&dir, 0o777);
        }
        let child = command
            .arg("-d")
            .arg(format!("{}/m.", dir.display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg("1024")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start smtp-sink");
        let sink = Sink {
            child,
            port,
            dir,
            arrivals,
            _watcher: watcher,
        };
        wait_until("smtp-sink listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        sink
    }

    pub fn count(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }

    /// Each arrival's wall-clock time, with the `X-Bench-Sent` stamp of the
    /// message (0 when it has none).
    pub fn arrivals(&self) -> Vec<(u128, u128)> {
        let seen = self.arrivals.lock().unwrap().clone();
        seen.into_iter()
            .map(|(path, arrived)| (arrived, sent_stamp(&path)))
            .collect()
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stamps each dump file the moment smtp-sink closes it: the arrival.
fn watch_arrivals(
    dir: &Path,
    arrivals: Arc<Mutex<HashMap<PathBuf, u128>>>,
) -> notify::RecommendedWatcher {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let stamp = now_ns();
        if let Ok(event) = event
            && matches!(
                event.kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
            )
        {
            let mut seen = arrivals.lock().unwrap();
            for path in event.paths {
                seen.entry(path).or_insert(stamp);
            }
        }
    })
    .unwrap();
    watcher.watch(dir, RecursiveMode::NonRecursive).unwrap();
    watcher
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

fn sent_stamp(path: &Path) -> u128 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("X-Bench-Sent: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|uids| uids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

pub fn wait_until(what: &str, bound: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < bound,
            "gave up after {bound:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    start.elapsed()
}

/// The release vmaild on `dir/vsisrv.ini`, stopped by its PID.
pub struct Vmaild {
    child: Child,
    pub dir: PathBuf,
}

pub fn write_config(dir: &Path, port: u16) {
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::set_permissions(&spool, std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    std::fs::write(
        dir.join("vsisrv.ini"),
        format!(
            "[VMAIL]\nmail-server = 127.0.0.1\nmail-port = {port}\ntls = none\nauth-type = none\n\
             from = bench@bench.test\nhelo-name = bench.test\n\
             [VFXSCHED]\nspool = {}\n",
            spool.display()
        ),
    )
    .unwrap();
    // The folders, made the way vmaild and vfx make them.
    vmail_spool::Spool::open(&spool).unwrap();
}

impl Vmaild {
    pub fn start(dir: &Path) -> Vmaild {
        let child = Command::new(env!("CARGO_BIN_EXE_vmaild"))
            .arg("--config")
            .arg(dir.join("vsisrv.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vmaild");
        Vmaild {
            child,
            dir: dir.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("spool/logs/vmail")).unwrap_or_default()
    }

    pub fn wait_ready(&self) -> Duration {
        wait_until("vmaild ready", Duration::from_secs(60), || {
            self.log().contains("ready:")
        })
    }

    /// `VmHWM` and `Threads` from /proc.
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("Threads:"))
    }

    /// SIGTERM, a bounded wait, then SIGKILL.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Vmaild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 2 KB message (headers included) stamped with the time it is handed over.
pub fn message_2k(n: usize, sent_ns: u128) -> String {
    let head = format!(
        "From: bench@bench.test\nTo: sink@bench.test\nSubject: bench {n}\n\
         Message-ID: <bench.{n}@bench.test>\nX-Bench-Sent: {sent_ns}\n\n"
    );
    let line = "The quick brown fox jumps over the lazy dog, 0123456789 abcdefghij.\n";
    let mut body = String::with_capacity(2048);
    while head.len() + body.len() + line.len() <= 2048 {
        body.push_str(line);
    }
    format!("{head}{body}")
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
