//! HylaFAX's received-fax hook, `packaging/hylafax/faxrcvd-vmail`, run
//! with the arguments faxgetty passes (`FILE DEVID COMMID ERROR-MSG
//! CALLID-1 CALLID-2`) from a HylaFAX-like spool, with a fake `faxinfo`
//! on PATH: it writes a `.job` into vmail's in/ that names the template
//! `fax-received`, carries faxinfo's facts as `[fields]` and attaches a
//! copy of the TIFF as PDF; vmaild (capture mode) renders the shipped
//! template and sends the fax. A reception that failed without a file
//! still tells the recipient why.
use crate::common::daemon;

use daemon::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A two-page G4 fax at 204×98 dpi (made with libtiff's tiffcp).
const FAX: &[u8] = include_bytes!("../data/fax-g4-2pages-normal.tif");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `dir/vsisrv.ini` in capture mode, with the shipped templates beside it.
fn vmail_with_templates(dir: &Path) {
    write_config(dir, "");
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    for entry in std::fs::read_dir(workspace().join("config/templates")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), templates.join(entry.file_name())).unwrap();
    }
    std::fs::create_dir_all(dir.join("spool/in")).unwrap();
}

/// A HylaFAX spool with `recvq/fax000042.tif` (when `fax`), and a `bin/`
/// holding a `faxinfo` that prints what HylaFAX's prints for that fax and
/// records how it was called.
fn hylafax(dir: &Path, fax: bool) -> PathBuf {
    let spool = dir.join("hylafax");
    std::fs::create_dir_all(spool.join("recvq")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    if fax {
        std::fs::write(spool.join("recvq/fax000042.tif"), FAX).unwrap();
    }
    let faxinfo = dir.join("bin/faxinfo");
    std::fs::write(
        &faxinfo,
        format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$*\" >> {calls}\n\
             [ -f \"$2\" ] || {{ echo \"Could not open $2; either not TIFF or corrupted.\"; exit 0; }}\n\
             cat <<'EOF'\n     Sender: +1 555 0100\n      Pages: 2\n    Quality: Normal\n       Page: ISO A4\n   Received: 2026:12:02 09:15:00\n TimeToRecv: 0:47\n SignalRate: 14400 bit/s\n DataFormat: 2-D MMR\n ErrCorrect: Yes\nEOF\n",
            calls = dir.join("faxinfo.calls").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&faxinfo, std::fs::Permissions::from_mode(0o755)).unwrap();
    spool
}

/// Runs the hook as faxgetty does: in HylaFAX's spool, with `args`.
fn faxrcvd(dir: &Path, args: &[&str]) -> std::process::Output {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .arg(workspace().join("packaging/hylafax/faxrcvd-vmail"))
        .args(args)
        .current_dir(dir.join("hylafax"))
        .env("PATH", path)
        .env("VMAIL_SPOOL", dir.join("spool"))
        .env("FAXRCVD_VMAIL_CONF", dir.join("no-such.conf"))
        .env("SENDTO", "ann@example.test")
        .output()
        .unwrap()
}

fn in_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("spool/in"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_hylafax_hook_writes_a_job_that_vmaild_renders_and_sends_with_the_fax() {
    let dir = tempfile::tempdir().unwrap();
    vmail_with_templates(dir.path());
    hylafax(dir.path(), true);
    let out = faxrcvd(
        dir.path(),
        &[
            "recvq/fax000042.tif",
            "ttyS0",
            "000000123",
            "",
            "5550100",
            "ACME Corp",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("faxinfo.calls")).unwrap(),
        "-n recvq/fax000042.tif\n"
    );
    let name = "hylafax-000000123-fax000042";
    assert_eq!(
        in_dir(dir.path()),
        vec![format!("{name}.files"), format!("{name}.job")]
    );
    let job = std::fs::read_to_string(dir.path().join(format!("spool/in/{name}.job"))).unwrap();
    assert_eq!(
        job,
        format!(
            "# written by faxrcvd-vmail for HylaFAX session 000000123\n\
             [job]\n\
             to = ann@example.test\n\
             template = fax-received\n\
             attach = {name}.files/fax000042.tif\n\
             attach-as = pdf\n\
             [fields]\n\
             pages = 2\n\
             remote-id = +1 555 0100\n\
             received = 2026:12:02 09:15:00\n\
             duration = 0:47\n\
             quality = Normal\n\
             page-size = ISO A4\n\
             signal-rate = 14400 bit/s\n\
             data-format = 2-D MMR\n\
             error-correct = Yes\n\
             device = ttyS0\n\
             comm-id = 000000123\n\
             caller = 5550100\n\
             caller-name = ACME Corp\n\
             file = recvq/fax000042.tif\n"
        )
    );
    // A copy, byte for byte; HylaFAX keeps its own.
    assert_eq!(
        std::fs::read(
            dir.path()
                .join(format!("spool/in/{name}.files/fax000042.tif"))
        )
        .unwrap(),
        FAX
    );
    assert!(dir.path().join("hylafax/recvq/fax000042.tif").exists());

    let vmaild = Daemon::start(dir.path());
    wait_for(
        "the fax in the capture",
        || captures(dir.path()).len() == 1,
        || vmaild.log(),
    );
    let raw = captured_text(dir.path());
    let message = mail_parser::MessageParser::new()
        .parse(raw.as_bytes())
        .unwrap();
    assert_eq!(message.subject(), Some("Fax from +1 555 0100, 2 pages"));
    let body = message.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(
        body,
        "A fax came in from +1 555 0100: 2 pages.\n\n\
         Received:   2026:12:02 09:15:00\n\
         Duration:   0:47\n\
         Caller ID:  5550100\n\
         Line:       ttyS0\n\
         \n\
         The fax is attached.\n"
    );
    use mail_parser::MimeHeaders;
    assert_eq!(message.attachment_count(), 1, "{raw}");
    let fax = message.attachment(0).unwrap();
    assert_eq!(fax.attachment_name(), Some("fax000042.pdf"), "{raw}");
    assert!(fax.contents().starts_with(b"%PDF-"), "{raw}");
    // Both pages of the fax.
    assert!(
        String::from_utf8_lossy(fax.contents()).contains("/Count 2"),
        "{raw}"
    );
    assert!(in_dir(dir.path()).is_empty(), "in/ is empty after pickup");
    assert!(vmaild.stop().success());
}

#[test]
fn a_failed_reception_without_a_file_still_says_why() {
    let dir = tempfile::tempdir().unwrap();
    vmail_with_templates(dir.path());
    hylafax(dir.path(), false);
    let out = faxrcvd(
        dir.path(),
        &[
            "recvq/fax000043.tif",
            "ttyS1",
            "000000124",
            "RSPREC error/got EOT",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let name = "hylafax-000000124-fax000043";
    assert_eq!(in_dir(dir.path()), vec![format!("{name}.job")]);
    let job = std::fs::read_to_string(dir.path().join(format!("spool/in/{name}.job"))).unwrap();
    assert!(!job.contains("attach"), "{job}");
    assert!(job.contains("\npages = 0\nremote-id = unknown\n"), "{job}");
    assert!(job.ends_with("\nstatus = RSPREC error/got EOT\n"), "{job}");

    let vmaild = Daemon::start(dir.path());
    wait_for(
        "the notice in the capture",
        || captures(dir.path()).len() == 1,
        || vmaild.log(),
    );
    let raw = captured_text(dir.path());
    assert!(raw.contains("Subject: Fax from unknown, 0 pages"), "{raw}");
    assert!(raw.contains("Note:       RSPREC error/got EOT"), "{raw}");
    assert!(vmaild.stop().success());
}

#[test]
fn the_hook_refuses_too_few_arguments_and_a_missing_drop_folder() {
    let dir = tempfile::tempdir().unwrap();
    hylafax(dir.path(), true);
    let out = faxrcvd(dir.path(), &["recvq/fax000042.tif", "ttyS0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("usage: faxrcvd-vmail FILE DEVID"),
        "{out:?}"
    );
    let out = faxrcvd(dir.path(), &["recvq/fax000042.tif", "ttyS0", "1", ""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/spool/in: no such folder"),
        "{out:?}"
    );
}
