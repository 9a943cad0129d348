//! Cron and mailx address local users (`root`) and send as bare names
//! (`-f cron`): `[VMAIL] admin-address` and `local-domain` say where they
//! go, the job's log says what was rewritten, and without them the names
//! are refused as before (sysexits 67).
use crate::common;

use common::*;

const ADMIN: &str = "admin-address = admin@example.com";
const DOMAIN: &str = "local-domain = host.example.com";

/// The `N` line of the one queued job: the first line of its log.
fn note(env: &Env) -> String {
    let ids = env.queued();
    assert_eq!(ids.len(), 1, "one job queued: {ids:?}");
    let text = std::fs::read_to_string(env.spool().join("queue").join(&ids[0])).unwrap();
    text.lines()
        .find(|line| line.starts_with('N'))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn root_without_the_keys_is_refused_with_67() {
    let env = Env::new();
    let run = env.run("vmail-sendmail", &["root"], b"Subject: cron\n\nhi\n");
    assert_eq!(run.code, 67, "{run:?}");
    assert_eq!(
        run.stderr,
        "vmail-sendmail: recipient `root` has no domain: vmail relays to a mail server and has no local mailboxes; give user@domain; nothing was queued\n"
    );
    assert!(env.queued().is_empty());
}

#[test]
fn root_goes_to_the_admin_address_and_the_log_says_so() {
    let env = Env::with_vmail(&format!("{ADMIN}\n{DOMAIN}"));
    let run = env.run(
        "vmail-sendmail",
        &["root", "postmaster", "ann@example.test"],
        b"Subject: cron\n\nhi\n",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, _) = env.only_job();
    assert_eq!(
        envelope,
        "Ffax@example.test\nTadmin@example.com\nTann@example.test\n"
    );
    let note = note(&env);
    assert!(
        note.ends_with(
            "to admin@example.com, ann@example.test\
             ; recipient root rewritten to admin@example.com ([VMAIL] admin-address)\
             ; recipient postmaster rewritten to admin@example.com ([VMAIL] admin-address)"
        ),
        "{note}"
    );
}

#[test]
fn without_an_admin_address_root_takes_the_local_domain() {
    let env = Env::with_vmail(DOMAIN);
    let run = env.run("vmail-sendmail", &["-t"], b"To: root\nSubject: s\n\nhi\n");
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, message) = env.only_job();
    assert_eq!(envelope, "Ffax@example.test\nTroot@host.example.com\n");
    // Only the envelope is rewritten: the To field stays as written.
    assert!(String::from_utf8_lossy(&message).contains("\nTo: root\n"));
    assert!(
        note(&env).ends_with(
            "; recipient root rewritten to root@host.example.com ([VMAIL] local-domain)"
        ),
        "{}",
        note(&env)
    );
}

#[test]
fn a_bare_sender_takes_the_local_domain_or_is_refused() {
    let env = Env::with_vmail(ADMIN);
    let run = env.run(
        "vmail-sendmail",
        &["-f", "cron", "ann@example.test"],
        b"\nhi\n",
    );
    assert_eq!(run.code, 67, "{run:?}");
    assert_eq!(
        run.stderr,
        "vmail-sendmail: -f `cron` has no domain: vmail relays to a mail server and has no local mailboxes; give user@domain; nothing was queued\n"
    );

    let env = Env::with_vmail(DOMAIN);
    let run = env.run(
        "vmail-sendmail",
        &["-f", "cron", "ann@example.test"],
        b"\nhi\n",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, message) = env.only_job();
    assert_eq!(envelope, "Fcron@host.example.com\nTann@example.test\n");
    assert!(String::from_utf8_lossy(&message).starts_with("From: cron@host.example.com\n"));
    assert!(
        note(&env)
            .ends_with("; sender cron rewritten to cron@host.example.com ([VMAIL] local-domain)"),
        "{}",
        note(&env)
    );
}

#[test]
fn vfx_sends_to_root_at_the_admin_address() {
    let env = Env::with_vmail(ADMIN);
    let run = env.run("vfx", &["-n", "root", "-m", "backup done"], b"");
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, message) = env.only_job();
    assert_eq!(envelope, "Ffax@example.test\nTadmin@example.com\n");
    assert!(String::from_utf8_lossy(&message).contains("\r\nTo: admin@example.com\r\n"));
    assert!(
        note(&env)
            .ends_with("; recipient root rewritten to admin@example.com ([VMAIL] admin-address)"),
        "{}",
        note(&env)
    );
    let env = Env::new();
    let run = env.run("vfx", &["-n", "root", "-m", "x"], b"");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(env.queued().is_empty());
}

/// What cron and `mail root` do: bsd-mailx runs `sendmail -i -t` with
/// `To: root` in the header (mailx_through_the_shim.rs installs it).
#[test]
fn mail_root_through_bsd_mailx_reaches_the_admin_address() {
    const MAILX: &str = "/usr/bin/bsd-mailx";
    if !std::path::Path::new(MAILX).exists() {
        eprintln!("{MAILX} is missing: run mailx_through_the_shim first, which installs it");
        return;
    }
    let env = Env::with_vmail(ADMIN);
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
        &["-s", "cron: backup", "root"],
        b"done\n",
        &[
            ("MAILRC", mailrc.to_str().unwrap()),
            ("VSIFAX", home),
            ("HOME", home),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, _) = env.only_job();
    assert_eq!(envelope, "Ffax@example.test\nTadmin@example.com\n");
    assert!(
        note(&env)
            .ends_with("; recipient root rewritten to admin@example.com ([VMAIL] admin-address)"),
        "{}",
        note(&env)
    );
}
