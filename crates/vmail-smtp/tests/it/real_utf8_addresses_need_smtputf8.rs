//! SMTPUTF8 (RFC 6531) against the real Postfix: a UTF-8 address goes with
//! `SMTPUTF8` to a listener that offers it and arrives; to one that does
//! not, nothing is sent and the job fails with the address and the missing
//! extension named; an IDNA domain behind an ASCII local part goes as its
//! A-label and needs no SMTPUTF8.
use crate::common;
use common::real;
use vmail_core::{Envelope, TlsMode};
use vmail_smtp::{Body, Outgoing, SessionReport, SmtpError, Submitter};

fn utf8_message(from: &str, to: &str, id: &str) -> Outgoing {
    let body = format!(
        "From: <{from}>\r\nTo: Jörg <{to}>\r\nSubject: für Jörg\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n"
    );
    Outgoing::new(
        Envelope::new(from, vec![to.to_string()]),
        Body::Bytes(body.into_bytes()),
    )
}

/// One session on `port` sending [`utf8_message`] from `fax@example.test`
/// to `to` under a new Message-ID tagged `tag`: the report and that id.
async fn send_utf8(
    servers: &real::Servers,
    port: u16,
    to: &str,
    tag: &str,
) -> (SessionReport, String) {
    let settings = real::settings(servers, port, TlsMode::None);
    let id = real::message_id(tag);
    let report = Submitter::new(settings)
        .send(vec![utf8_message("fax@example.test", to, &id)])
        .await;
    (report, id)
}

#[tokio::test]
async fn a_utf8_address_goes_with_smtputf8_and_arrives() {
    let servers = real::servers();
    let (report, id) =
        send_utf8(&servers, servers.utf8_port, "jörg@example.test", "smtputf8").await;
    real::assert_delivered(&report);
    let transcript = report.transcript.to_string();
    assert!(
        transcript.contains("C: MAIL FROM:<fax@example.test> SIZE=")
            && transcript.contains(" BODY=8BITMIME SMTPUTF8"),
        "{transcript}"
    );
    assert!(
        transcript.contains("C: RCPT TO:<jörg@example.test>"),
        "{transcript}"
    );
    let arrived = String::from_utf8(real::arrived(&servers, &id)).unwrap();
    assert!(
        arrived.contains("Delivered-To: jörg@example.test"),
        "{arrived}"
    );
    assert!(arrived.contains("\nGrüße\n"), "{arrived}");
}

#[tokio::test]
async fn a_utf8_address_without_smtputf8_fails_before_mail_from() {
    let servers = real::servers();
    let (report, id) = send_utf8(
        &servers,
        servers.no8bitmime_port,
        "用户@example.test",
        "nosmtputf8",
    )
    .await;
    let message = &report.messages[0];
    assert_eq!(message.outcome.label(), "failed", "{}", report.transcript);
    let error = message.error.as_deref().unwrap();
    assert!(
        matches!(error, SmtpError::NeedsSmtpUtf8 { address } if address == "用户@example.test"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the address 用户@example.test is not ASCII and the server does not offer SMTPUTF8 \
         (RFC 6531); the message was not sent"
    );
    let transcript = report.transcript.to_string();
    assert!(!transcript.contains("MAIL FROM"), "{transcript}");
    assert!(servers.find_message(&id).is_empty());
}

#[tokio::test]
async fn an_idna_domain_goes_as_its_a_label_without_smtputf8() {
    let servers = real::servers();
    let settings = real::settings(&servers, servers.no8bitmime_port, TlsMode::None);
    let id = real::message_id("idna");
    let body = format!("Subject: idna\r\nMessage-ID: <{id}>\r\n\r\nascii body\r\n");
    let message = Outgoing::new(
        Envelope::new("fax@example.test", vec!["ann@bücher.example".to_string()]),
        Body::Bytes(body.into_bytes()),
    );
    let report = Submitter::new(settings).send(vec![message]).await;
    real::assert_delivered(&report);
    let transcript = report.transcript.to_string();
    assert!(
        transcript.contains("C: RCPT TO:<ann@xn--bcher-kva.example>"),
        "{transcript}"
    );
    assert!(!transcript.contains("SMTPUTF8"), "{transcript}");
    assert_eq!(
        report.messages[0].recipients[0].address, "ann@bücher.example",
        "the report names the address as the job gave it"
    );
    let arrived = real::arrived(&servers, &id);
    let arrived = String::from_utf8_lossy(&arrived);
    assert!(
        arrived.contains("Delivered-To: ann@xn--bcher-kva.example"),
        "{arrived}"
    );
}
