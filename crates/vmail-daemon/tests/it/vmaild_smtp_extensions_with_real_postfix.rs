//! vmaild with the SMTP extensions of the private Postfix (issue 14): a
//! dropped `.eml` to a UTF-8 address goes with SMTPUTF8 and arrives, and
//! fails at once with the address and the extension named where SMTPUTF8
//! is not offered; an 8-bit message to the listener without 8BITMIME
//! arrives 7-bit and the job log says so; a `.job` with `notify = success`
//! brings Postfix's success notice, quoting the job id, to the sender.
use crate::common::daemon;
use crate::common::ini::Ini;
use crate::common::real;

use daemon::*;

fn utf8_eml(id: &str) -> String {
    format!(
        "From: Fax <fax@example.test>\nTo: Jörg <jörg@example.test>\nSubject: Grüße\n\
         Message-ID: <{id}>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: 8bit\n\nSehr geehrter Herr Jörg Müller,\nanbei Ihr Fax.\n"
    )
}

#[test]
fn a_utf8_address_is_delivered_with_smtputf8() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Ini::plain(&servers, servers.utf8_port)
        .with("debug = 2")
        .start(dir.path());
    let id = real::message_id("utf8");
    let spool = daemon.spool();
    drop_eml(&spool, "u.eml", &utf8_eml(&id));
    let arrived = real::arrived(&servers, &id, || daemon.log());
    let arrived = String::from_utf8(arrived).unwrap();
    assert!(
        arrived.contains("Delivered-To: jörg@example.test"),
        "{arrived}"
    );
    assert!(arrived.ends_with("Sehr geehrter Herr Jörg Müller,\nanbei Ihr Fax.\n"));
    let log = real::job_log_in(&spool, "sent");
    assert!(log.contains(" BODY=8BITMIME SMTPUTF8"), "{log}");
    assert!(log.contains(" C: RCPT TO:<jörg@example.test>"), "{log}");
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_utf8_address_fails_at_once_where_smtputf8_is_not_offered() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Ini::plain(&servers, servers.no8bitmime_port).start(dir.path());
    let id = real::message_id("no-utf8");
    let spool = daemon.spool();
    drop_eml(&spool, "u.eml", &utf8_eml(&id));
    let log = real::job_log_in(&spool, "failed");
    assert!(
        log.contains(
            "the address jörg@example.test is not ASCII and the server does not offer SMTPUTF8 \
             (RFC 6531); the message was not sent"
        ),
        "{log}"
    );
    assert!(
        log.contains("relay through a server that offers SMTPUTF8"),
        "{log}"
    );
    assert!(log.contains("status: failed"), "{log}");
    assert_eq!(daemon.stop().code(), Some(0));
    assert!(servers.find_message(&id).is_empty());
}

#[test]
fn an_8bit_message_is_made_7bit_for_a_server_without_8bitmime() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Ini::plain(&servers, servers.no8bitmime_port).start(dir.path());
    let id = real::message_id("8bit");
    let spool = daemon.spool();
    let text = "Größe: 12 €\nÜbersicht über 3 Seiten\n";
    drop_eml(
        &spool,
        "e.eml",
        &format!(
            "From: fax@example.test\nTo: jms1@jms1.net\nSubject: Fax für Sie\n\
             Message-ID: <{id}>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
             Content-Transfer-Encoding: 8bit\n\n{text}"
        ),
    );
    let arrived = real::arrived(&servers, &id, || daemon.log());
    assert!(
        !arrived.iter().any(|&b| b >= 0x80),
        "{}",
        String::from_utf8_lossy(&arrived)
    );
    let parsed = mail_parser::MessageParser::new().parse(&arrived).unwrap();
    assert_eq!(parsed.subject(), Some("Fax für Sie"));
    assert_eq!(parsed.body_text(0).unwrap(), text);
    let log = real::job_log_in(&spool, "sent");
    assert!(
        log.contains(
            "the server does not offer 8BITMIME: the message was made 7-bit before sending (1 \
             part(s) re-encoded as quoted-printable, 1 header field(s) written as RFC 2047 \
             encoded-words)"
        ),
        "{log}"
    );
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_job_asking_notify_success_gets_postfix_s_notice_quoting_its_id() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let sender = "dsn-job@example.test";
    let daemon = Ini::plain(&servers, servers.smtp_plain_port)
        .with(&format!("from = {sender}\ndsn-return = headers\ndebug = 2"))
        .start(dir.path());
    let spool = daemon.spool();
    let job = "to = jms1@jms1.net\nsubject = dsn\nbody = hello\nnotify = success\n";
    drop_eml(&spool, "n.job", job);
    let id = &real::one_job_in(&spool, "sent");
    let log = real::job_log(&spool, id);
    assert!(log.contains(&format!(" RET=HDRS ENVID={id}")), "{log}");
    assert!(
        log.contains(" C: RCPT TO:<jms1@jms1.net> NOTIFY=SUCCESS"),
        "{log}"
    );
    let needle = format!("Original-Envelope-Id: {id}");
    let notice = real::wait_for_message_containing(&servers, sender, &needle, || daemon.log());
    let notice = std::fs::read_to_string(&notice).unwrap();
    assert!(notice.contains("Action: delivered"), "{notice}");
    assert_eq!(daemon.stop().code(), Some(0));
}
