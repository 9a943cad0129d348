//! Shared by the `check_*` scenarios: a vsisrv.ini pointing at a server,
//! `vfxadmin check` run on it (bounded, see `common::run_in`), and readers
//! of the verdict lines an administrator sees.
#![allow(dead_code)]

use super::common::{Run, run_in};
use std::path::PathBuf;

/// A temp folder holding `vsisrv.ini`.
pub struct CheckEnv {
    pub dir: tempfile::TempDir,
}

impl CheckEnv {
    /// `vmail` is the body of `[VMAIL]` (mail-server, tls, ...).
    pub fn new(vmail: &str) -> CheckEnv {
        let dir = tempfile::tempdir().unwrap();
        let text =
            format!("[VMAIL]\nfrom = fax@example.test\n{vmail}\n[VFXSCHED]\nspool = spool\n");
        std::fs::write(dir.path().join("vsisrv.ini"), text).unwrap();
        CheckEnv { dir }
    }

    /// The fault server on loopback, 1 s per step.
    pub fn fault(port: u16, extra: &str) -> CheckEnv {
        CheckEnv::new(&format!(
            "mail-server = 127.0.0.1\nmail-port = {port}\ntimeout = 1\nhelo-name = client.test\n{extra}"
        ))
    }

    pub fn ini(&self) -> PathBuf {
        self.dir.path().join("vsisrv.ini")
    }

    /// `vfxadmin -c vsisrv.ini check ARGS...`.
    pub fn check(&self, args: &[&str]) -> Run {
        let ini = self.ini();
        let mut all = vec!["-c", ini.to_str().unwrap(), "check"];
        all.extend_from_slice(args);
        run_in(self.dir.path(), "vfxadmin", &all, b"", &[])
    }

    /// The same, off the async runtime (the fault server runs on it).
    pub async fn check_async(self, args: &[&str]) -> Run {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.check(&args)
        })
        .await
        .unwrap()
    }
}

/// The verdict lines (`[ ok ]`, `[warn]`, `[FAIL]`), in order.
pub fn verdicts(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("[ ok ]") || l.starts_with("[warn]") || l.starts_with("[FAIL]"))
        .map(str::to_string)
        .collect()
}

/// Asserts that `line` is one of the verdicts, exactly.
pub fn assert_verdict(run: &Run, line: &str) {
    assert!(
        verdicts(run).iter().any(|v| v == line),
        "no verdict line\n  {line}\nin:\n{}\nstderr: {}",
        run.stdout,
        run.stderr
    );
}

/// The one verdict starting with `prefix`.
pub fn verdict_starting(run: &Run, prefix: &str) -> String {
    let found: Vec<String> = verdicts(run)
        .into_iter()
        .filter(|v| v.starts_with(prefix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one verdict `{prefix}...` in:\n{}",
        run.stdout
    );
    found[0].clone()
}

/// Asserts the exit status, showing the output when it differs.
pub fn assert_exit(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "exit status\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// Asserts that `secret` appears nowhere in what the command printed.
pub fn assert_not_shown(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "`{secret}` was shown:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

/// This machine's name, as the test message's subject carries it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}
