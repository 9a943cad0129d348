//! DSN (RFC 3461) against the real Postfix: `NOTIFY=SUCCESS` with `RET=HDRS`
//! and an `ENVID` makes Postfix send its success notice to the sender's
//! Maildir, quoting the envelope id; the listener without 8BITMIME still
//! offers DSN, and nothing of DSN is sent where no request was made.
use crate::common;
use common::real;
use vmail_core::{Dsn, DsnNotify, DsnReturn, Envelope, TlsMode};
use vmail_smtp::{Body, Outgoing, Submitter};
use vmail_testkit::process::wait_for_within;

#[tokio::test]
async fn notify_success_brings_postfix_s_success_notice_to_the_sender() {
    let servers = real::servers();
    let settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::None);
    let id = real::message_id("dsn");
    let envid = id.replace(['@', '.'], "-");
    let mut envelope = Envelope::new("dsn-sender@example.test", vec!["jms1@jms1.net".into()]);
    envelope.dsn = Dsn {
        notify: Some(DsnNotify::parse("success,failure").unwrap()),
        ret: Some(DsnReturn::Headers),
        envid: Some(envid.clone()),
    };
    let body = format!("Subject: dsn\r\nMessage-ID: <{id}>\r\n\r\nhello\r\n");
    let report = Submitter::new(settings)
        .send(vec![Outgoing::new(
            envelope,
            Body::Bytes(body.into_bytes()),
        )])
        .await;
    real::assert_delivered(&report);
    let transcript = report.transcript.to_string();
    assert!(
        transcript.contains(&format!(" RET=HDRS ENVID={envid}")),
        "{transcript}"
    );
    assert!(
        transcript.contains("C: RCPT TO:<jms1@jms1.net> NOTIFY=SUCCESS,FAILURE"),
        "{transcript}"
    );
    let needle = format!("Original-Envelope-Id: {envid}");
    let sender_box = servers.maildir_of("dsn-sender@example.test");
    wait_for_within(
        "Postfix's success notice in the sender's Maildir",
        real::DELIVERY_WAIT,
        || {
            servers
                .messages_containing(&needle)
                .iter()
                .any(|path| path.starts_with(&sender_box))
        },
        || servers.log_tails(30),
    );
    let notice = std::fs::read_to_string(&servers.messages_containing(&needle)[0]).unwrap();
    assert!(notice.contains("report-type=delivery-status"), "{notice}");
    assert!(notice.contains("Action: delivered"), "{notice}");
    assert!(
        notice.contains("Final-Recipient: rfc822; jms1@jms1.net"),
        "{notice}"
    );
}

#[tokio::test]
async fn without_a_request_no_dsn_parameter_is_sent() {
    let servers = real::servers();
    let settings = real::settings(&servers, servers.no8bitmime_port, TlsMode::None);
    let id = real::message_id("nodsn");
    let report = Submitter::new(settings)
        .send(vec![real::message(
            "fax@example.test",
            &["jms1@jms1.net"],
            &id,
        )])
        .await;
    real::assert_delivered(&report);
    assert!(
        report
            .extensions
            .as_ref()
            .is_some_and(|e| e.dsn && !e.eight_bit_mime)
    );
    let transcript = report.transcript.to_string();
    for word in ["NOTIFY=", "RET=", "ENVID=", "BODY=", "SMTPUTF8"] {
        assert!(!transcript.contains(word), "{word} in\n{transcript}");
    }
}
