//! `vmail-sendmail` run as the real binary: recipients as arguments, `-t`
//! with Bcc stripped, `-i` and the lone dot, the fields it adds, `-bp`,
//! options it ignores or refuses, `-N`/`-R`/`-V` (DSN), UTF-8 addresses,
//! and sysexits codes.
use crate::common;

use common::*;

fn sendmail(env: &Env, args: &[&str], stdin: &str) -> Run {
    env.run("vmail-sendmail", args, stdin.as_bytes())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn recipients_as_arguments_and_the_fields_sendmail_adds() {
    let env = Env::new();
    let run = sendmail(
        &env,
        &[
            "-oi",
            "-oem",
            "-odi",
            "-B8BITMIME",
            "-F",
            "Fax Server",
            "ann@example.test",
            "Bob <bob@example.test>,cy@example.test",
        ],
        "Subject: hi\n\nhello\n",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.is_empty() && run.stderr.is_empty(),
        "sendmail is silent: {run:?}"
    );
    let (envelope, message) = env.only_job();
    assert_eq!(
        envelope,
        "Ffax@example.test\nTann@example.test\nTbob@example.test\nTcy@example.test\n"
    );
    let message = text(&message);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[0], "From: \"Fax Server\" <fax@example.test>");
    assert!(lines[1].starts_with("Date: "), "{message}");
    assert!(
        lines[2].starts_with("Message-ID: <") && lines[2].ends_with("@example.test>"),
        "{message}"
    );
    assert_eq!(&lines[3..], ["Subject: hi", "", "hello"]);
}

#[test]
fn t_reads_to_cc_and_bcc_and_removes_bcc() {
    let env = Env::new();
    let msg = "From: Me <me@example.test>\nTo: Ann <ann@example.test>\nCc: cy@example.test\nBcc: secret@example.test,\n  hidden@example.test\nSubject: t\nDate: Mon, 23 Nov 2026 20:00:00 +0000\nMessage-ID: <1@example.test>\n\nbody\n";
    let run = sendmail(
        &env,
        &["-t", "-f", "me@example.test", "extra@example.test"],
        msg,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, message) = env.only_job();
    assert_eq!(
        envelope,
        "Fme@example.test\nTextra@example.test\nTann@example.test\nTcy@example.test\nTsecret@example.test\nThidden@example.test\n"
    );
    let message = text(&message);
    assert!(
        !message.contains("secret") && !message.contains("hidden") && !message.contains("Bcc"),
        "{message}"
    );
    assert_eq!(
        message,
        msg.replace("Bcc: secret@example.test,\n  hidden@example.test\n", "")
    );
}

#[test]
fn a_lone_dot_ends_the_message_unless_i_is_given() {
    let env = Env::new();
    let input = "Subject: dots\n\nbefore\n.\nafter\n";
    assert_eq!(sendmail(&env, &["ann@example.test"], input).code, 0);
    let (_, message) = env.only_job();
    let message = text(&message);
    assert!(
        message.ends_with("\nbefore\n") && !message.contains("after"),
        "{message}"
    );
    std::fs::remove_dir_all(env.spool().join("queue")).unwrap();
    assert_eq!(sendmail(&env, &["-i", "ann@example.test"], input).code, 0);
    let (_, message) = env.only_job();
    assert!(text(&message).ends_with("\nbefore\n.\nafter\n"));
}

/// `-C vsisrv.ini` names the ini relative to the current folder, so its
/// `spool = spool` is a bare relative name, whose parent is the empty
/// path: creating the spool (as root, which gives each new folder to the
/// owner of the one above it) failed with "cannot inspect : No such file".
#[test]
fn a_relative_ini_creates_its_relative_spool() {
    let env = Env::new();
    assert!(!env.spool().exists());
    let run = run_in(
        env.path(),
        "vmail-sendmail",
        &["-C", "vsisrv.ini", "ann@example.test"],
        b"Subject: q\n\nx\n",
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.queued().len(), 1);
}

#[test]
fn bp_warns_of_a_corrupt_entry_and_lists_the_others() {
    let env = Env::new();
    for rcpt in ["ann@example.test", "bob@example.test"] {
        sendmail(&env, &[rcpt], "Subject: q\n\nx\n");
    }
    let ids = env.queued();
    assert_eq!(ids.len(), 2, "{ids:?}");
    std::fs::write(env.spool().join("queue").join(&ids[0]), "garbage").unwrap();
    let run = sendmail(&env, &["-bp"], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .starts_with("vmail-sendmail: warning: corrupt queue entry "),
        "{run:?}"
    );
    assert!(run.stderr.contains(ids[0].as_str()), "{run:?}");
    assert!(run.stdout.contains(ids[1].as_str()), "{run:?}");
    assert!(!run.stdout.contains(ids[0].as_str()), "{run:?}");
    assert!(run.stdout.ends_with("in 1 Request.\n"), "{run:?}");
}

#[test]
fn bp_lists_the_queue_like_mailq() {
    let env = Env::new();
    let run = sendmail(&env, &["-bp"], "");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Mail queue is empty\n"),
        "{run:?}"
    );
    sendmail(
        &env,
        &["ann@example.test", "bob@example.test"],
        "Subject: q\n\nx\n",
    );
    let run = sendmail(&env, &["-bp"], "");
    assert_eq!(run.code, 0, "{run:?}");
    let id = &env.queued()[0];
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("-Queue ID-"), "{}", run.stdout);
    assert!(
        lines[1].starts_with(id.as_str()) && lines[1].ends_with("  fax@example.test"),
        "{}",
        run.stdout
    );
    assert_eq!(lines[2].trim(), "ann@example.test");
    assert_eq!(lines[3].trim(), "bob@example.test");
    assert_eq!(lines.last().unwrap(), &"-- 1 Kbytes in 1 Request.");
}

#[test]
fn errors_use_sysexits_and_queue_nothing() {
    let env = Env::with_vmail("max-message-size = 100");
    let cases: [(&[&str], &str, i32, &str); 6] = [
        (
            &["-X", "/tmp/log", "a@example.test"],
            "x",
            64,
            "vmail-sendmail: unexpected argument '-X' found; this option is not supported (see vmail-sendmail --help)\n",
        ),
        (
            &["-oQ/tmp/q", "a@example.test"],
            "x",
            64,
            "vmail-sendmail: -oQ/tmp/q is not supported (accepted: -oi, -oe*, -od*, -om, -oL*)\n",
        ),
        (
            &[],
            "Subject: x\n\nx\n",
            64,
            "vmail-sendmail: no recipients: give addresses as arguments, or -t to read them from the header; nothing was queued\n",
        ),
        (
            &["root"],
            "x",
            67,
            "vmail-sendmail: recipient `root` has no domain: vmail relays to a mail server and has no local mailboxes; give user@domain; nothing was queued\n",
        ),
        (
            &["a@@example.test"],
            "x",
            65,
            "vmail-sendmail: recipient `a@@example.test` is not an email address; nothing was queued\n",
        ),
        (
            &["a@example.test"],
            &"y".repeat(200),
            65,
            "vmail-sendmail: the message is over [VMAIL] max-message-size (100 bytes); nothing was queued\n",
        ),
    ];
    for (args, input, code, stderr) in cases {
        let run = sendmail(&env, args, input);
        assert_eq!((run.code, run.stderr.as_str()), (code, stderr), "{args:?}");
        assert!(env.queued().is_empty(), "{args:?} queued nothing");
    }
    let run = run_in(
        env.path(),
        "vmail-sendmail",
        &["-C", "missing.ini", "a@example.test"],
        b"x",
        &[],
    );
    assert_eq!(run.code, 78, "{run:?}");
    assert!(
        run.stderr
            .starts_with("vmail-sendmail: missing.ini: cannot read the configuration"),
        "{run:?}"
    );
}

#[test]
fn n_r_and_v_are_queued_as_the_job_s_dsn_request_with_utf8_addresses() {
    let env = Env::new();
    let run = sendmail(
        &env,
        &[
            "-N",
            "success,delay",
            "-R",
            "hdrs",
            "-V",
            "order-17",
            "jörg@example.test",
            "用户@例子.广告",
        ],
        "Subject: Grüße\n\nhallo\n",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (envelope, _) = env.only_job();
    assert_eq!(
        envelope,
        "Ffax@example.test\nDNOTIFY=SUCCESS,DELAY RET=HDRS ENVID=order-17\n\
         Tjörg@example.test\nT用户@例子.广告\n"
    );
    let bad = sendmail(&env, &["-N", "sometimes", "a@example.test"], "x\n");
    assert_eq!(bad.code, 64, "{bad:?}");
    assert_eq!(
        bad.stderr,
        "vmail-sendmail: -N: \"sometimes\" is not a DSN notify list: give `never`, or one or \
         more of `success`, `failure`, `delay` separated by commas; nothing was queued\n"
    );
}
