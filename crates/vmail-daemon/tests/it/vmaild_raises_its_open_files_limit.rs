//! vmaild started with a soft open-files limit of 64 (the default is 1,024
//! under systemd, with a hard limit far higher) raises it to the hard
//! limit, so three sessions holding 50 jobs each drain a backlog without
//! one "Too many open files"; with a hard limit too low for max-connections
//! it says so in the daemon log, naming LimitNOFILE.
use crate::common::daemon;

use daemon::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A program that runs vmaild with the open-files limit `soft:hard`
/// (prlimit execs it, so the PID is vmaild's).
fn limited_vmaild(dir: &Path, soft: u32, hard: u32) -> PathBuf {
    let wrapper = dir.join("limited-vmaild");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec prlimit --nofile={soft}:{hard} {} \"$@\"\n",
            env!("CARGO_BIN_EXE_vmaild")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

/// The soft "Max open files" of `pid`, from /proc.
fn soft_open_files(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().to_string()
}

#[test]
fn a_backlog_for_three_sessions_drains_from_a_soft_limit_of_64() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "max-connections = 3");
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(spool.join("in")).unwrap();
    const JOBS: usize = 200;
    for n in 0..JOBS {
        drop_eml(&spool, &format!("{n}.eml"), &eml(&format!("job{n}")));
    }
    let vmaild = Daemon::start_program(dir.path(), &limited_vmaild(dir.path(), 64, 4096));
    assert_eq!(soft_open_files(vmaild.pid()), "4096");
    wait_for(
        "every job captured",
        || captures(dir.path()).len() == JOBS,
        || vmaild.log(),
    );
    let log = vmaild.log();
    assert!(
        log.contains("open files: limit raised from 64 to 4096"),
        "{log}"
    );
    assert!(!log.contains("Too many open files"), "{log}");
    assert_eq!(vmaild.stop().code(), Some(0));
}

#[test]
fn a_hard_limit_too_low_for_max_connections_is_named_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "max-connections = 3");
    let vmaild = Daemon::start_program(dir.path(), &limited_vmaild(dir.path(), 64, 64));
    let log = vmaild.log();
    assert!(
        log.contains("max-connections = 3 needs about 226 open files, and the limit is 64"),
        "{log}"
    );
    assert!(log.contains("raise LimitNOFILE"), "{log}");
    assert_eq!(vmaild.stop().code(), Some(0));
}
