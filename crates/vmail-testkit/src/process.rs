//! The helpers every crate's integration tests need around real processes,
//! written once: bounded waits on a condition, the workspace's binaries
//! (built on demand for a test crate that does not own them), and a real
//! `vmaild` started on a configuration and always stopped by its PID.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long [`wait_for`] waits before it fails the test.
pub const WAIT: Duration = Duration::from_secs(20);

/// How often [`wait_for`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `done` for at most [`WAIT`]; on timeout panics with `what` and
/// what `show` returns (a log, a folder listing), so a failure explains
/// itself.
pub fn wait_for(what: &str, done: impl FnMut() -> bool, show: impl Fn() -> String) {
    wait_for_within(what, WAIT, done, show);
}

/// [`wait_for`] with another bound.
pub fn wait_for_within(
    what: &str,
    within: Duration,
    done: impl FnMut() -> bool,
    show: impl Fn() -> String,
) {
    assert!(
        poll(within, done),
        "timed out after {} s waiting for {what}\n{}",
        within.as_secs_f64(),
        show()
    );
}

/// Waits at most `within` for `child` to exit and returns how it did.
/// Past the bound the child is killed and reaped before the test fails,
/// so no process outlives a failed test.
pub fn wait_exit(child: &mut Child, what: &str, within: Duration) -> ExitStatus {
    let mut status = None;
    let exited = poll(within, || {
        status = match child.try_wait() {
            Ok(status) => status,
            Err(err) => panic!("cannot wait for {what}: {err}"),
        };
        status.is_some()
    });
    match status {
        Some(status) if exited => status,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {} s", within.as_secs_f64());
        }
    }
}

/// [`wait_for_within`] for an async test: the test's runtime goes on
/// running the tasks it waits for between looks. The bound is real time,
/// also under paused tokio time, where work on the blocking pool (the
/// spool's writes) still takes real time.
pub async fn wait_until(what: &str, within: Duration, done: impl FnMut() -> bool) {
    assert!(
        holds_within(within, done).await,
        "timed out after {} s waiting for {what}",
        within.as_secs_f64()
    );
}

/// Whether `done` held within `within` (real time), looked at every
/// 10 ms while the runtime runs other tasks. For a test that
/// asserts something does *not* happen for a while, and for
/// [`wait_until`].
pub async fn holds_within(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(ASYNC_POLL).await;
    }
}

/// How often [`holds_within`] looks again: short, because under paused
/// time each look also moves the virtual clock this far.
const ASYNC_POLL: Duration = Duration::from_millis(10);

/// Polls `done` every [`POLL`] until it holds or `within` has passed;
/// whether it held. The one polling loop of the test helpers.
pub(crate) fn poll(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// The path of binary `bin` of workspace package `package`, built (debug,
/// once per test process) with `cargo build -p package --bin bin`. For a
/// test crate that runs another package's binary, which cargo's
/// `CARGO_BIN_EXE_*` only names for the package's own.
pub fn workspace_binary(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut child = Command::new(cargo)
        .args(["build", "-q", "-p", package, "--bin", bin])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run cargo to build {bin}: {err}"));
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`cargo build -p {package} --bin {bin}` did not finish within 10 min");
            }
            Err(err) => panic!("cannot wait for cargo: {err}"),
        }
    };
    assert!(
        status.success(),
        "`cargo build -p {package} --bin {bin}` failed"
    );
    let path = profile_dir().join(bin);
    assert!(
        path.is_file(),
        "{} is missing after the build",
        path.display()
    );
    built.insert(bin.to_string(), path.clone());
    path
}

/// The workspace root: two folders above this crate's manifest.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Where cargo put the running test binary's profile (`target/debug`),
/// whatever the target folder is: the test runs from `<profile>/deps/`.
fn profile_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target").join("debug"))
}

/// A `vmaild` the test started; stopped by its PID when dropped.
pub struct Vmaild {
    pub child: Child,
    /// The daemon log, `<spool>/logs/vmail`.
    pub log_path: PathBuf,
}

impl Vmaild {
    /// Starts `binary --config ini` (stderr to `stderr`) and waits until
    /// its log in `spool` says `ready:`.
    pub fn start(binary: &Path, ini: &Path, spool: &Path, stderr: &Path) -> Vmaild {
        let stderr = std::fs::File::create(stderr)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", stderr.display()));
        let child = Command::new(binary)
            .arg("--config")
            .arg(ini)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let daemon = Vmaild {
            child,
            log_path: spool.join("logs").join("vmail"),
        };
        daemon.wait_for_log("ready:");
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|err| panic!("cannot run kill: {err}"));
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits, bounded, until the daemon log contains `text`.
    pub fn wait_for_log(&self, text: &str) {
        wait_for(
            &format!("`{text}` in the daemon log"),
            || self.log().contains(text),
            || self.log(),
        );
    }

    /// SIGTERM, then a bounded wait for the exit status.
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        let mut status = None;
        let log = self.log();
        wait_for(
            "vmaild to stop after SIGTERM",
            || {
                status = self.child.try_wait().ok().flatten();
                status.is_some()
            },
            || log.clone(),
        );
        status.unwrap_or_else(|| panic!("vmaild did not stop:\n{log}"))
    }

    /// SIGKILL, and the wait that reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Vmaild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
