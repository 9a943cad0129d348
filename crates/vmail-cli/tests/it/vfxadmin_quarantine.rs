//! `vfxadmin quarantine list | show | requeue | delete` run as the real
//! binary on files pickup set aside.
use crate::common;

use common::*;
use vmail_spool::Spool;

fn admin(env: &Env, args: &[&str]) -> Run {
    let mut all = vec!["quarantine"];
    all.extend_from_slice(args);
    env.run("vfxadmin", &all, b"")
}

/// Drops `name` into in/ and lets pickup quarantine it.
fn quarantined(env: &Env, name: &str, bytes: &[u8]) {
    let spool = Spool::open(env.spool()).unwrap();
    let path = spool.in_dir().join(name);
    std::fs::write(&path, bytes).unwrap();
    assert!(spool.ingest(&path, "fax@example.test", 1 << 20).is_err());
}

#[test]
fn list_show_requeue_and_delete() {
    let env = Env::new();
    let run = admin(&env, &["list"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("The quarantine of "), "{run:?}");
    assert!(run.stdout.ends_with(" is empty.\n"), "{run:?}");

    quarantined(&env, "cron.job", b"subject = s\nbody = hi\n");
    quarantined(&env, "x.pdf", b"%PDF");
    let run = admin(&env, &["list"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "NAME      AGE  SIZE  WHY", "{}", run.stdout);
    assert!(
        lines[1].starts_with("cron.job  ")
            && lines[1].ends_with("has no recipients: `to`, `cc` and `bcc` are all empty"),
        "{}",
        run.stdout
    );
    assert!(
        lines[2].ends_with(
            "has an unknown suffix: drop a whole message as NAME.eml or a job file as NAME.job"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(lines[3], "2 file(s)");

    let run = admin(&env, &["show", "cron.job"]);
    assert_eq!(run.code, 0, "{run:?}");
    for line in [
        "File:        cron.job\n",
        "Size:        22 bytes\n",
        ", mode 0",
        "Why:         ",
        "  subject = s\n  body = hi\n",
        "Fix the file, then `vfxadmin quarantine requeue cron.job`; or `vfxadmin quarantine delete cron.job`.\n",
    ] {
        assert!(
            run.stdout.contains(line),
            "{line:?} missing:\n{}",
            run.stdout
        );
    }

    let run = admin(&env, &["requeue", "x.pdf"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "vfxadmin: x.pdf is not a .eml or .job file, so pickup would set it aside again: read it, then delete it (or give it one of those names and move it into in/ yourself)\n"
    );

    let run = admin(&env, &["requeue", "cron.job"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with("cron.job: back in in/ as cron.requeued-")
            && run.stdout.ends_with(
                ".job; its reason goes into the new job's log (vmaild picks it up now)\n"
            ),
        "{}",
        run.stdout
    );
    let spool = Spool::open(env.spool()).unwrap();
    assert_eq!(spool.drops().unwrap().len(), 1);

    assert_eq!(
        admin(&env, &["delete", "x.pdf"]).stdout,
        "x.pdf: deleted, with its reason\n"
    );
    assert!(spool.quarantined().unwrap().is_empty());
    let run = admin(&env, &["delete", "x.pdf"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("vfxadmin: no file x.pdf in "),
        "{run:?}"
    );
}
