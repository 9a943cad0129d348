//! A `.job` with `attach-as = pdf` goes through the real vmaild to the
//! private Postfix (STARTTLS, AUTH) of `tests/servers/start.sh`: the
//! mailbox holds the fax as one PDF, the one vmail-fax makes from the TIFF,
//! and the job log's first line says so.
use crate::common::daemon;
use crate::common::ini::Ini;
use crate::common::real;

use daemon::*;
use mail_parser::{MessageParser, MimeHeaders};

const FAX: &[u8] = include_bytes!("../../../vmail-fax/tests/data/fax-2p-normal-g3.tif");

#[test]
fn a_fax_arrives_in_the_mailbox_as_pdf() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    Ini::submission(&servers).write(dir.path());
    let spool = dir.path().join("spool");
    stage_files(&spool, "rx", &[("fax000042.tif", FAX)]);
    // A token only this run's mail carries, to find it in the Maildir.
    let token = real::message_id("fax-pdf");
    let to = &servers.user.user;
    drop_eml(
        &spool,
        "rx.job",
        &format!(
            "[job]\nto = {to}\nsubject = Fax {token}\nbody = A fax came in.\n\
             attach = rx.files/fax000042.tif\nattach-as = pdf\n"
        ),
    );
    let daemon = Daemon::start(dir.path());
    let log = real::job_log_in(&spool, "sent");
    assert!(
        log.lines().next().unwrap().ends_with(
            " queued from in/rx.job; fax000042.tif attached as fax000042.pdf (2 page(s))"
        ),
        "{log}"
    );

    let path = real::wait_for_message_containing(&servers, to, &token, || daemon.log());
    let bytes = std::fs::read(&path).unwrap();
    let message = MessageParser::new().parse(&bytes).unwrap();
    assert_eq!(message.attachment_count(), 1);
    let fax = message.attachment(0).unwrap();
    assert_eq!(fax.attachment_name(), Some("fax000042.pdf"));
    let ct = fax.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
    assert_eq!(fax.contents(), vmail_fax::tiff_to_pdf(FAX).unwrap().pdf);
    assert_eq!(daemon.stop().code(), Some(0));
}
