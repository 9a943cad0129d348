//! A capture-mode configuration in a temp folder, the real binaries run
//! on it, and readers of the spool they write.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use vmail_testkit::command::run_bounded_with_input;

/// What a binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A temp folder holding `vsisrv.ini` (capture mode) and `spool/`.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env::with_vmail("")
    }

    /// `extra` goes into `[VMAIL]`, e.g. `max-message-size = 1k`.
    pub fn with_vmail(extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[VMAIL]\nmail-server = file:capture\nfrom = fax@example.test\n{extra}\n[VFXSCHED]\nspool = spool\ndebug = On\n"
        );
        std::fs::write(dir.path().join("vsisrv.ini"), text).unwrap();
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn ini(&self) -> PathBuf {
        self.path().join("vsisrv.ini")
    }

    pub fn spool(&self) -> PathBuf {
        self.path().join("spool")
    }

    /// Writes a file in the temp folder and returns its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Runs `bin` with `-c vsisrv.ini` (or `-C` for the shim) first.
    pub fn run(&self, bin: &str, args: &[&str], stdin: &[u8]) -> Run {
        let flag = if bin.ends_with("sendmail") {
            "-C"
        } else {
            "-c"
        };
        let ini = self.ini();
        let mut all = vec![flag, ini.to_str().unwrap()];
        all.extend_from_slice(args);
        run_in(self.path(), bin, &all, stdin, &[])
    }

    /// The ids in `queue/`, sorted.
    pub fn queued(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.spool().join("queue"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.ends_with(".state"))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// The one queued job's envelope lines and message.
    /// The one queued job: its envelope lines (`F`, `T`; the submitter's
    /// `N` note line, which carries a time, is left out) and its message.
    pub fn only_job(&self) -> (String, Vec<u8>) {
        let ids = self.queued();
        assert_eq!(ids.len(), 1, "one job queued: {ids:?}");
        let bytes = std::fs::read(self.spool().join("queue").join(&ids[0])).unwrap();
        let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
        let envelope: String = String::from_utf8(bytes[..split + 1].to_vec())
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with('N'))
            .map(|line| format!("{line}\n"))
            .collect();
        (envelope, bytes[split + 2..].to_vec())
    }
}

/// The path of one of this package's binaries.
pub fn bin_path(bin: &str) -> PathBuf {
    match bin {
        "vfx" => PathBuf::from(env!("CARGO_BIN_EXE_vfx")),
        "vfxadmin" => PathBuf::from(env!("CARGO_BIN_EXE_vfxadmin")),
        "vmail-sendmail" => PathBuf::from(env!("CARGO_BIN_EXE_vmail-sendmail")),
        "vmail-docgen" => PathBuf::from(env!("CARGO_BIN_EXE_vmail-docgen")),
        other => PathBuf::from(other),
    }
}

/// Runs `bin` in `dir` with `stdin`, bounded to 60 s.
pub fn run_in(dir: &Path, bin: &str, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin_path(bin));
    cmd.args(args).current_dir(dir).env_remove("VSIFAX");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let what = format!("{bin} {args:?}");
    let ran = run_bounded_with_input(&mut cmd, &what, Duration::from_secs(60), stdin)
        .unwrap_or_else(|err| panic!("{err}"));
    Run {
        code: ran.status.code().unwrap_or(-1),
        stdout: ran.stdout,
        stderr: ran.stderr,
    }
}

/// The bounded wait every crate's tests share.
pub use vmail_testkit::process::wait_for;
