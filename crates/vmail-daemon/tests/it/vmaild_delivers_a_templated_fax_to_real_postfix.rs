//! A `.job` naming the template `fax-received`, with `[fields]` and a fax
//! TIFF, goes through the real vmaild to the private Postfix (STARTTLS,
//! AUTH) of `tests/run.sh`: the mailbox holds the subject and body the
//! shipped template renders, and the fax byte for byte; the job log's
//! first line names the drop. A job whose template lacks a field it needs
//! is quarantined with the template, line and field, and nothing is sent.
use crate::common::daemon;
use crate::common::ini::Ini;
use crate::common::real;

use daemon::*;
use std::path::Path;

const FAX: &[u8] = include_bytes!("../data/fax-g4-2pages-normal.tif");

/// The shipped templates beside the ini in `dir`.
fn shipped_templates(dir: &Path) {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/templates");
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    for entry in std::fs::read_dir(shipped).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), templates.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_templated_fax_arrives_rendered_with_its_tiff() {
    use mail_parser::{MessageParser, MimeHeaders};

    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    Ini::submission(&servers).write(dir.path());
    shipped_templates(dir.path());
    let spool = dir.path().join("spool");
    stage_files(&spool, "fax7", &[("fax000007.tif", FAX)]);
    // A token only this run's mail carries, to find it in the Maildir.
    let token = real::message_id("template");
    let to = &servers.user.user;
    drop_eml(
        &spool,
        "fax7.job",
        &format!(
            "[job]\nto = {to}\ntemplate = fax-received\nattach = fax7.files/fax000007.tif\n\
             [fields]\npages = 2\nremote-id = {token}\nduration = 1:02\ndevice = ttyS3\n"
        ),
    );
    drop_eml(
        &spool,
        "fax8.job",
        &format!("[job]\nto = {to}\ntemplate = fax-received\n[fields]\npages = 2\n"),
    );
    let daemon = Daemon::start(dir.path());

    let log = real::job_log_in(&spool, "sent");
    assert!(
        log.lines()
            .next()
            .unwrap()
            .ends_with(" queued from in/fax7.job"),
        "{log}"
    );

    let path = real::wait_for_message_containing(&servers, to, &token, || daemon.log());
    let bytes = std::fs::read(&path).unwrap();
    let message = MessageParser::new().parse(&bytes).unwrap();
    assert_eq!(
        message.subject(),
        Some(format!("Fax from {token}, 2 pages").as_str())
    );
    assert_eq!(
        message.body_text(0).unwrap().replace("\r\n", "\n"),
        format!(
            "A fax came in from {token}: 2 pages.\n\nDuration:   1:02\nLine:       ttyS3\n\nThe fax is attached.\n"
        )
    );
    let fax = message.attachment(0).unwrap();
    assert_eq!(fax.attachment_name(), Some("fax000007.tif"));
    assert_eq!(fax.contents(), FAX);

    // The job without remote-id: quarantined, named, never sent.
    let reason = std::fs::read_to_string(spool.join("quarantine/fax8.job.reason")).unwrap();
    assert!(
        reason.contains("template `fax-received` (")
            && reason.contains(
                "fax-received.j2) line 14: field `remote_id` is missing (the job gives pages)"
            ),
        "{reason}"
    );
    assert!(daemon.log().contains("quarantined: "), "{}", daemon.log());
    assert_eq!(real::jobs_in(&spool, "queue"), Vec::<String>::new());
    assert_eq!(daemon.stop().code(), Some(0));
}
