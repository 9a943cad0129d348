//! A real program that calls sendmail: Debian's `bsd-mailx`, installed
//! here when missing (`apt-get install -y bsd-mailx`).
//!
//! bsd-mailx runs the program named by its `sendmail` variable (else
//! /usr/sbin/sendmail) as `sendmail -i -t [-f FROM]`, with the whole
//! message, Bcc included, on standard input. The test sets the variable in
//! a private start-up file (`MAILRC`), and, since the variable holds a path
//! and no arguments, points the shim at its configuration with `VSIFAX`
//! (`$VSIFAX/lib/vsisrv.ini`).
use crate::common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use vmail_testkit::command::run_bounded;

const MAILX: &str = "/usr/bin/bsd-mailx";

/// Runs a command to its end within `limit`; its output goes to our stderr.
/// Whether `cmd` ran to success within `limit` (killed past it).
fn succeeds_within(cmd: &mut Command, limit: Duration) -> bool {
    let what = format!("{cmd:?}");
    match run_bounded(cmd, &what, limit).and_then(|ran| ran.succeeded(&what)) {
        Ok(_) => true,
        Err(err) => {
            eprintln!("{err}");
            false
        }
    }
}

fn ensure_mailx() {
    if Path::new(MAILX).exists() {
        return;
    }
    let install = || {
        succeeds_within(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "bsd-mailx"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
            Duration::from_secs(300),
        )
    };
    let updated_and_installed = || {
        succeeds_within(
            Command::new("apt-get").args(["update", "-q"]),
            Duration::from_secs(300),
        ) && install()
    };
    assert!(
        install() || updated_and_installed(),
        "{MAILX} is missing and `apt-get install -y bsd-mailx` failed (it needs root and Debian's package archive); install bsd-mailx and run the test again"
    );
}

#[test]
fn bsd_mailx_queues_through_the_shim() {
    ensure_mailx();
    let env = Env::new();
    std::fs::create_dir(env.path().join("lib")).unwrap();
    std::fs::write(
        env.path().join("lib/vsisrv.ini"),
        std::fs::read_to_string(env.ini())
            .unwrap()
            .replace("spool = spool", "spool = ../spool"),
    )
    .unwrap();
    let mailrc = env.file(
        "mailrc",
        format!("set sendmail={}\n", bin_path("vmail-sendmail").display()).as_bytes(),
    );
    let home = env.path().to_str().unwrap();
    let run = run_in(
        env.path(),
        MAILX,
        &[
            "-s",
            "From mailx",
            "-c",
            "cy@example.test",
            "-b",
            "secret@example.test",
            "-r",
            "me@example.test",
            "ann@example.test",
        ],
        b"Hello from mailx.\n.\nA line after a lone dot.\n",
        &[
            ("MAILRC", mailrc.to_str().unwrap()),
            ("VSIFAX", home),
            ("HOME", home),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, message) = env.only_job();
    assert_eq!(
        envelope,
        "Fme@example.test\nTann@example.test\nTcy@example.test\nTsecret@example.test\n"
    );
    let message = String::from_utf8(message).unwrap();
    assert!(message.contains("Subject: From mailx\n"), "{message}");
    assert!(
        message.contains("To: ann@example.test\n") && message.contains("Cc: cy@example.test\n"),
        "{message}"
    );
    assert!(!message.contains("secret"), "Bcc stripped: {message}");
    assert!(
        message.contains("Message-ID: <") && message.contains("Date: "),
        "{message}"
    );
    assert!(
        message.ends_with("Hello from mailx.\n.\nA line after a lone dot.\n"),
        "mailx passes -i: {message}"
    );
    let id = &env.queued()[0];
    let spool = vmail_spool::Spool::open(env.spool()).unwrap();
    let note = spool
        .load(&vmail_core::JobId::parse(id).unwrap())
        .unwrap()
        .note
        .unwrap();
    assert!(note.contains("submitted by vmail-sendmail (uid "), "{note}");
}
