//! The real `vmaild` binary, started on a capture-mode configuration in a
//! temp folder and always stopped by its PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
}

pub fn write_config(dir: &Path, extra_vmail: &str) -> PathBuf {
    let ini = dir.join("vsisrv.ini");
    let text = format!(
        "[VMAIL]\nmail-server = file:capture\nfrom = fax@example.test\n{extra_vmail}\n[VFXSCHED]\nspool = spool\ndebug = On\n"
    );
    std::fs::write(&ini, text).unwrap();
    ini
}

impl Daemon {
    pub fn start(dir: &Path) -> Daemon {
        let stderr = std::fs::File::create(dir.join("vmaild.stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vmaild"))
            .arg("--config")
            .arg(dir.join("vsisrv.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child,
            dir: dir.to_path_buf(),
        };
        daemon.wait_for_log("ready:");
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("spool/logs/vmail")).unwrap_or_default()
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
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "vmaild did not stop within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `done` every 20 ms for at most 20 s; on timeout panics with `what`
/// and the context `show` returns.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool, show: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            show()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Puts a message into `in/` the way the README tells programs to: write a
/// dot-file, then rename it.
pub fn drop_eml(spool: &Path, name: &str, text: &str) {
    let temp = spool.join("in").join(format!(".{name}"));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, spool.join("in").join(name)).unwrap();
}

pub fn eml(subject: &str) -> String {
    format!(
        "From: fax@example.test\nTo: Ann <ann@example.test>\nSubject: {subject}\nMessage-ID: <{subject}@example.test>\n\nHello.\n"
    )
}

pub fn captures(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir.join("capture"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

pub fn captured_text(dir: &Path) -> String {
    captures(dir)
        .iter()
        .map(|name| std::fs::read_to_string(dir.join("capture").join(name)).unwrap())
        .collect()
}
