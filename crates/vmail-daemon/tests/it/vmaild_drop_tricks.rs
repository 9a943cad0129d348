//! What a hostile or careless drop cannot do to the real vmaild: make it
//! read a file outside the spool (symbolic links, hard links, `../` and
//! absolute paths in a `.job`), change or remove one, or queue a message
//! over `[VMAIL] max-message-size`; and the modes it relies on: folders
//! 0750, files 0640, a folder others may write to refused, a key file
//! others may read refused, each with the fix.
use crate::common::daemon;

use daemon::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file outside the spool, and what it was before the test.
struct Outside {
    path: PathBuf,
    text: String,
    meta: std::fs::Metadata,
}

impl Outside {
    fn new(dir: &Path, name: &str) -> Outside {
        let path = dir.join(name);
        let text = format!("To: eve@example.test\nFrom: eve@example.test\n\nSECRET-{name}\n");
        std::fs::write(&path, &text).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        Outside { path, text, meta }
    }

    fn assert_untouched(&self) {
        let meta = std::fs::symlink_metadata(&self.path).expect("still there");
        assert_eq!(std::fs::read_to_string(&self.path).unwrap(), self.text);
        assert_eq!(meta.ino(), self.meta.ino(), "{:?} replaced", self.path);
        assert_eq!(meta.mtime_nsec(), self.meta.mtime_nsec());
        assert_eq!(
            meta.mode(),
            self.meta.mode(),
            "{:?} mode changed",
            self.path
        );
    }
}

fn drop_job(spool: &Path, name: &str, text: &str) {
    drop_eml(spool, name, text);
}

fn quarantine_reason(spool: &Path, name: &str) -> String {
    std::fs::read_to_string(spool.join("quarantine").join(format!("{name}.reason")))
        .unwrap_or_else(|err| panic!("no reason for {name}: {err}"))
}

#[test]
fn links_and_escaping_paths_in_the_drop_folder_reach_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let vmaild = Daemon::capture(dir.path(), "");
    let spool = vmaild.spool();
    let passwd_before = std::fs::read("/etc/passwd").ok();
    let outside = Outside::new(dir.path(), "outside.eml");
    let attachment = Outside::new(dir.path(), "outside.pdf");
    let body = Outside::new(dir.path(), "outside.txt");
    let files = spool.join("in/files");
    std::fs::create_dir(&files).unwrap();

    // Top-level drops: links to /etc/passwd and to a file outside.
    symlink("/etc/passwd", spool.join("in/passwd.eml")).unwrap();
    symlink(&outside.path, spool.join("in/link.eml")).unwrap();
    std::fs::hard_link(&outside.path, spool.join("in/hard.eml")).unwrap();
    // Job files naming files outside their folder, every way.
    symlink(&attachment.path, files.join("link.pdf")).unwrap();
    std::fs::hard_link(&attachment.path, files.join("hard.pdf")).unwrap();
    // (Inside a folder: a link at the top of in/ is itself quarantined.)
    symlink(dir.path(), files.join("up")).unwrap();
    let head = "to = ann@example.test\nfrom = fax@example.test\nsubject = trick\n";
    let jobs = [
        ("abs.job", "attach = /etc/passwd", "is an absolute path"),
        (
            "dotdot.job",
            "attach = files/../../outside.pdf",
            "leaves the drop folder (`..` is refused)",
        ),
        (
            "symlink.job",
            "attach = files/link.pdf",
            "is a symbolic link; vmail does not follow links",
        ),
        (
            "dirlink.job",
            "attach = files/up/outside.pdf",
            "is a symbolic link; vmail does not follow links",
        ),
        (
            "hardlink.job",
            "attach = files/hard.pdf",
            "has 2 hard links; a dropped file must have exactly one",
        ),
        (
            "body-abs.job",
            "body-file = /etc/passwd",
            "is an absolute path",
        ),
        (
            "body-dotdot.job",
            "body-file = ../outside.txt",
            "leaves the drop folder (`..` is refused)",
        ),
        (
            "body-dirlink.job",
            "body-file = files/up/outside.txt",
            "is a symbolic link; vmail does not follow links",
        ),
    ];
    for (name, line, _) in &jobs {
        drop_job(&spool, name, &format!("{head}{line}\n"));
    }
    // And one honest job and message, to show pickup went on around them.
    std::fs::write(files.join("fax.pdf"), b"%PDF-1.4 fax").unwrap();
    drop_job(
        &spool,
        "good.job",
        &format!("{head}attach = files/fax.pdf\n"),
    );
    drop_eml(&spool, "good.eml", &eml("good"));

    wait_for(
        "the two good jobs",
        || captures(dir.path()).len() == 2,
        || vmaild.log(),
    );
    let quarantined = 3 + jobs.len();
    wait_for(
        "every trick quarantined",
        || vmaild.log().matches("quarantined:").count() == quarantined,
        || vmaild.log(),
    );
    assert!(vmaild.stop().success());

    let reason = |name: &str| quarantine_reason(&spool, name);
    let in_dir = spool.join("in");
    assert_eq!(
        reason("passwd.eml"),
        format!(
            "{}/passwd.eml: is a symbolic link; vmail does not follow links\n",
            in_dir.display()
        )
    );
    assert!(
        reason("link.eml").ends_with("link.eml: is a symbolic link; vmail does not follow links\n")
    );
    assert!(
        reason("hard.eml")
            .ends_with("hard.eml: has 2 hard links; a dropped file must have exactly one\n")
    );
    for (name, line, why) in &jobs {
        let key = line.split(" = ").next().unwrap();
        let value = line.split(" = ").nth(1).unwrap();
        let text = reason(name);
        assert!(
            text.contains(&format!("{key} `{value}` {why}")),
            "{name}: {text}"
        );
    }
    // The links themselves went to quarantine, not copies of their targets.
    let q = spool.join("quarantine");
    assert!(
        std::fs::symlink_metadata(q.join("passwd.eml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(q.join("link.eml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // Nothing outside was read into a job, changed or removed.
    let delivered = captured_text(dir.path());
    assert!(!delivered.contains("SECRET-"), "{delivered}");
    assert!(!delivered.contains("root:"), "{delivered}");
    assert_eq!(std::fs::read("/etc/passwd").ok(), passwd_before);
    for file in [&outside, &attachment, &body] {
        file.assert_untouched();
    }
    // The honest job's attachment was consumed; the trick files stay for
    // the administrator, in a folder that still exists.
    assert!(!files.join("fax.pdf").exists());
    assert!(std::fs::symlink_metadata(files.join("link.pdf")).is_ok());
    assert!(files.join("hard.pdf").exists());
}

#[test]
fn the_spool_is_private_0750_and_0640() {
    let dir = tempfile::tempdir().unwrap();
    let vmaild = Daemon::capture(dir.path(), "");
    let spool = vmaild.spool();
    drop_eml(&spool, "one.eml", &eml("one"));
    drop_eml(&spool, "junk.eml", "no header here\n\n");
    wait_for(
        "a delivery",
        || captures(dir.path()).len() == 1,
        || vmaild.log(),
    );
    vmaild.wait_for_log("quarantined:");
    assert!(vmaild.stop().success());

    let mut seen = 0;
    let mut stack = vec![spool.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.mode() & 0o7777;
        if meta.is_dir() {
            // maildrop/: vmail-postdrop's group may create, nobody may list.
            if path == spool.join("maildrop") {
                assert_eq!(mode, 0o1730, "{path:?}");
            } else if path != spool {
                assert_eq!(mode, 0o750, "{path:?}");
            }
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.parent() != Some(&spool.join("quarantine"))
            || path.extension().is_some_and(|e| e == "reason")
        {
            // Quarantined drops keep the mode their writer gave them.
            assert_eq!(mode, 0o640, "{path:?}");
            seen += 1;
        }
    }
    // The pid file, the daemon log, the job's log, message and state in
    // sent/, the quarantine reason: at least these.
    assert!(seen >= 5, "only {seen} files checked");
}

#[test]
fn a_drop_folder_others_may_write_to_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "");
    let in_dir = dir.path().join("spool/in");
    std::fs::create_dir_all(&in_dir).unwrap();
    std::fs::set_permissions(&in_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--config")
        .arg(dir.path().join("vsisrv.ini"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "spool directory {0} is writable by others (mode 0777); fix it with `chmod o-w {0}`",
        in_dir.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_key_file_others_may_read_stops_vmaild_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("vmail.key");
    let (key, created) = vmail_config::secrets::load_or_create_key(&key_path).unwrap();
    assert!(created);
    assert_eq!(std::fs::metadata(&key_path).unwrap().mode() & 0o777, 0o600);
    let sealed = vmail_config::secrets::seal(&key, "fax:pa55word").unwrap();
    write_config(dir.path(), &format!("auth-rsp = {sealed}"));
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vmaild"))
        .arg("--config")
        .arg(dir.path().join("vsisrv.ini"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "[VMAIL] auth-rsp: is encrypted, but the key file cannot be used: {0} may be read or written by group or others (mode 0640), so vmail refuses it (run `chmod 600 {0}`)",
        key_path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("pa55word"), "{stderr}");
}

#[test]
fn a_drop_over_max_message_size_is_quarantined_with_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let vmaild = Daemon::capture(dir.path(), "max-message-size = 2k");
    let spool = vmaild.spool();
    let big = format!("{}{}\n", eml("big"), "x".repeat(3000));
    drop_eml(&spool, "big.eml", &big);
    let files = spool.join("in/big.files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("scan.tif"), vec![7u8; 1500]).unwrap();
    drop_job(
        &spool,
        "big.job",
        "to = ann@example.test\nfrom = fax@example.test\nbody = hello\nattach = big.files/scan.tif\n",
    );
    drop_eml(&spool, "small.eml", &eml("small"));
    wait_for(
        "the small job",
        || captures(dir.path()).len() == 1,
        || vmaild.log(),
    );
    wait_for(
        "both big drops quarantined",
        || vmaild.log().matches("quarantined:").count() == 2,
        || vmaild.log(),
    );
    assert!(vmaild.stop().success());
    let eml_reason = quarantine_reason(&spool, "big.eml");
    assert!(
        eml_reason.ends_with(&format!(
            "big.eml: is {} bytes, over the limit of 2048 bytes\n",
            big.len()
        )),
        "{eml_reason}"
    );
    // The .job is small; the message it packs (base64 attachment) is not.
    let job_reason = quarantine_reason(&spool, "big.job");
    assert!(
        job_reason.contains("big.job: makes a message of "),
        "{job_reason}"
    );
    assert!(
        job_reason.ends_with(" bytes, over the limit of 2048 bytes\n"),
        "{job_reason}"
    );
    assert!(
        files.join("scan.tif").exists(),
        "a refused job's files stay"
    );
    assert!(captured_text(dir.path()).contains("<small@example.test>"));
}
