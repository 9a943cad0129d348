//! A message renamed into `in/` is delivered without waiting for a poll;
//! garbage goes to quarantine with one log line naming it and why.
use crate::common::daemon;

use daemon::*;

#[test]
fn a_dropped_message_flows_through_and_garbage_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let vmaild = Daemon::capture(dir.path(), "");
    let spool = vmaild.spool();
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
    // The job's log starts with where it came from (the note the pickup left
    // in the queue entry), then the attempt, then the status.
    let job_log = wait_for_job_log(&spool, "status: delivered", &vmaild);
    let lines: Vec<&str> = job_log.lines().collect();
    assert!(lines[0].ends_with(" queued from in/hello.eml"), "{job_log}");
    assert!(lines[1].contains(" attempt 1 via "), "{job_log}");
    assert_eq!(
        job_log.matches("queued from in/").count(),
        1,
        "written once: {job_log}"
    );
    assert!(
        std::fs::read_dir(spool.join("in"))
            .unwrap()
            .next()
            .is_none(),
        "in/ is empty"
    );
    assert!(vmaild.stop().success());
}

/// The one job log in `logs/`, once it holds `text` (bounded wait).
fn wait_for_job_log(spool: &std::path::Path, text: &str, vmaild: &Daemon) -> String {
    let read = || -> String {
        std::fs::read_dir(spool.join("logs"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    };
    wait_for(
        &format!("`{text}` in the job log"),
        || read().contains(text),
        || vmaild.log(),
    );
    read()
}
