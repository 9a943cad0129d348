//! End to end: vfx queues a job with two attachments, the real vmaild
//! delivers it into its capture folder, and the attachments arrive byte
//! for byte.
//!
//! vmaild belongs to another package, so cargo does not build it for this
//! one's tests: the test builds it first (`cargo build -p vmail-daemon
//! --bin vmaild`, bounded), into the target folder of the binaries under
//! test.
use crate::common;

use common::*;
use mail_parser::{MessageParser, MimeHeaders};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// vmaild, built for this package's tests (another package's binary).
fn vmaild() -> PathBuf {
    vmail_testkit::process::workspace_binary("vmail-daemon", "vmaild")
}

/// The daemon, killed by its pid when the test ends, however it ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn vfx_submits_and_vmaild_delivers_the_attachments_unchanged() {
    let vmaild = vmaild();
    let env = Env::new();
    let pdf: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let tiff: Vec<u8> = b"II*\x00"
        .iter()
        .copied()
        .chain((0..5000u32).map(|i| (i * 7) as u8))
        .collect();
    env.file("scan.pdf", &pdf);
    env.file("page.tif", &tiff);
    let stderr = std::fs::File::create(env.path().join("vmaild.stderr")).unwrap();
    let _daemon = Daemon(
        Command::new(&vmaild)
            .arg("--config")
            .arg(env.ini())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let daemon_log = || std::fs::read_to_string(env.spool().join("logs/vmail")).unwrap_or_default();
    wait_for(
        "vmaild to be ready",
        || daemon_log().contains("ready:"),
        daemon_log,
    );

    let run = env.run(
        "vfx",
        &[
            "-n",
            "ann@example.test",
            "-s",
            "Scans",
            "-C",
            "classic",
            "scan.pdf",
            "page.tif",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let id = run.stdout.trim().to_string();
    // No nudge: vmaild sees the job's link into queue/ at once. Its
    // rescan is a minute away and wait_for gives up after 20 s, so a
    // missed hint fails this test.
    let capture = env.path().join("capture").join(format!("{id}.eml"));
    wait_for(
        "the job in the capture folder",
        || capture.exists(),
        daemon_log,
    );

    let bytes = std::fs::read(&capture).unwrap();
    let message = MessageParser::new().parse(&bytes).unwrap();
    assert_eq!(message.subject(), Some("Scans"));
    let parts: Vec<_> = message.attachments().collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].attachment_name(), Some("scan.pdf"));
    assert_eq!(parts[0].contents(), pdf.as_slice());
    assert_eq!(parts[1].attachment_name(), Some("page.tif"));
    assert_eq!(parts[1].content_type().unwrap().subtype(), Some("tiff"));
    assert_eq!(parts[1].contents(), tiff.as_slice());
    let run = env.run("vfxadmin", &["queue", "show", &id], b"");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Where:       delivered, in sent/"),
        "{}",
        run.stdout
    );
}

/// The Message-ID header of a queued job's message.
fn queued_message_id(queue_file: &Path) -> String {
    let text = String::from_utf8_lossy(&std::fs::read(queue_file).unwrap()).into_owned();
    text.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("message-id")
                .then(|| value.trim().trim_matches(['<', '>']).to_string())
        })
        .unwrap_or_else(|| panic!("no Message-ID in {}:\n{text}", queue_file.display()))
}

/// vfx queues while vmaild is stopped; vmaild starts, delivers over
/// STARTTLS with AUTH to the real Postfix of tests/run.sh, and what lands in
/// the Maildir carries both attachments byte for byte.
#[test]
fn vfx_to_vmaild_to_the_real_postfix_delivers_the_attachments_unchanged() {
    let servers = vmail_testkit::servers::TestServers::from_env();
    let vmaild = vmaild();
    let env = Env::new();
    let ini = format!(
        "[VMAIL]\nmail-server = {host}\nmail-port = {port}\ntls = starttls\nca-file = {ca}\n\
         auth-type = plain\nauth-delim = |\nauth-rsp = {user}|{password}\nfrom = fax@example.test\n\
         timeout = 10s\n[VFXSCHED]\nspool = spool\n",
        host = servers.host,
        port = servers.submission_port,
        ca = servers.ca_cert.display(),
        user = servers.user.user,
        password = servers.user.password,
    );
    std::fs::write(env.ini(), ini).unwrap();
    let pdf: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..9000u32).map(|i| (i * 13) as u8))
        .collect();
    env.file("report.pdf", &pdf);
    env.file("chart.png", &png);
    let run = env.run(
        "vfx",
        &[
            "-n",
            &servers.user.user,
            "-s",
            "Quarterly report",
            "-C",
            "classic",
            "report.pdf",
            "chart.png",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let id = run.stdout.trim().to_string();
    let message_id = queued_message_id(&env.spool().join("queue").join(&id));

    let stderr = std::fs::File::create(env.path().join("vmaild.stderr")).unwrap();
    let _daemon = Daemon(
        Command::new(&vmaild)
            .arg("--config")
            .arg(env.ini())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let daemon_log = || std::fs::read_to_string(env.spool().join("logs/vmail")).unwrap_or_default();
    let bytes = servers
        .delivered_message(&message_id, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{message_id} never reached Postfix\n{}", daemon_log()));
    let message = MessageParser::new().parse(&bytes).unwrap();
    assert_eq!(message.subject(), Some("Quarterly report"));
    let parts: Vec<_> = message.attachments().collect();
    assert_eq!(parts.len(), 2, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(parts[0].attachment_name(), Some("report.pdf"));
    assert_eq!(parts[0].content_type().unwrap().subtype(), Some("pdf"));
    assert_eq!(parts[0].contents(), pdf.as_slice());
    assert_eq!(parts[1].attachment_name(), Some("chart.png"));
    assert_eq!(parts[1].content_type().unwrap().subtype(), Some("png"));
    assert_eq!(parts[1].contents(), png.as_slice());
    wait_for(
        "the job in sent/",
        || env.spool().join("sent").join(&id).exists(),
        daemon_log,
    );
    let job_log = std::fs::read_to_string(env.spool().join("logs").join(format!("{id}.log")))
        .unwrap_or_default();
    assert!(job_log.contains("status: delivered"), "{job_log}");
}
