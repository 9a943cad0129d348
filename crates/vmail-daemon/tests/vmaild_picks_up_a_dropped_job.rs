//! A message renamed into `in/` is delivered without waiting for a poll;
//! garbage goes to quarantine with one log line naming it and why.
#![allow(clippy::unwrap_used)]
#[path = "common/daemon.rs"]
mod daemon;

use daemon::*;

#[test]
fn a_dropped_message_flows_through_and_garbage_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "");
    let vmaild = Daemon::start(dir.path());
    let spool = dir.path().join("spool");
    drop_eml(&spool, "hello.eml", &eml("hello"));
    drop_eml(
        &spool,
        "junk.eml",
        "\u{0}\u{1}binary garbage without headers\n",
    );
    wait_for(
        "the capture",
        || captures(dir.path()).len() == 1,
        || vmaild.log(),
    );
    vmaild.wait_for_log("quarantined:");

    let text = captured_text(dir.path());
    assert!(text.contains("Message-ID: <hello@example.test>"), "{text}");
    assert!(
        text.contains("X-Vmail-Envelope-To: <ann@example.test>"),
        "{text}"
    );
    let log = vmaild.log();
    assert!(log.contains("CAPTURE MODE"), "{log}");
    assert!(
        log.contains("junk.eml"),
        "the quarantine line names the file: {log}"
    );
    assert!(spool.join("quarantine/junk.eml").exists());
    assert!(
        std::fs::read_dir(spool.join("in"))
            .unwrap()
            .next()
            .is_none(),
        "in/ is empty"
    );
    assert!(vmaild.stop().success());
}
