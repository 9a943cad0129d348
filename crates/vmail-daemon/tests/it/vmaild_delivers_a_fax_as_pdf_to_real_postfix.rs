//! A `.job` with `attach-as = pdf` goes through the real vmaild to the
//! private Postfix (STARTTLS, AUTH) of `tests/servers/start.sh`: the
//! mailbox holds the fax as one PDF, the one vmail-fax makes from the TIFF,
//! and the job log's first line says so.
use crate::common::daemon;
use crate::common::real;

use daemon::*;
use mail_parser::{MessageParser, MimeHeaders};

const FAX: &[u8] = include_bytes!("../../../vmail-fax/tests/data/fax-2p-normal-g3.tif");

#[test]
fn a_fax_arrives_in_the_mailbox_as_pdf() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    real::write_config(
        dir.path(),
        &servers,
        servers.submission_port,
        "starttls",
        Some(("plain", &servers.user)),
        "",
    );
    let spool = dir.path().join("spool");
    let files = spool.join("in/rx.files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("fax000042.tif"), FAX).unwrap();
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
    wait_for(
        "the job in sent/",
        || real::jobs_in(&spool, "sent").len() == 1,
        || daemon.log(),
    );
    let id = real::jobs_in(&spool, "sent")[0].clone();
    let log = real::job_log(&spool, &id);
    assert!(
        log.lines().next().unwrap().ends_with(
            " queued from in/rx.job; fax000042.tif attached as fax000042.pdf (2 page(s))"
        ),
        "{log}"
    );

    let mut found = None;
    vmail_testkit::process::wait_for_within(
        &format!("the fax to reach {to}"),
        real::DELIVERY_WAIT,
        || {
            found = real::messages_containing(&servers, to, &token).pop();
            found.is_some()
        },
        || format!("{}\n{}", daemon.log(), servers.log_tails(30)),
    );
    let Some(path) = found else {
        unreachable!("wait_for_within returns only once the fax is there")
    };
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
