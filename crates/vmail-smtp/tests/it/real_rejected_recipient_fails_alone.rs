//! Postfix refuses one recipient with 550 and defers another with 450: each
//! gets its own outcome, the good recipient gets the mail.
use crate::common;
use common::real;
use vmail_core::TlsMode;
use vmail_smtp::Submitter;

#[tokio::test]
async fn a_550_recipient_fails_alone() {
    let servers = real::servers();
    let settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::None);
    let id = real::message_id("rcpt");
    let to = [
        servers.reject_rcpt.as_str(),
        servers.user.user.as_str(),
        servers.defer_rcpt.as_str(),
    ];
    let report = Submitter::new(settings)
        .send(vec![real::message("fax@example.test", &to, &id)])
        .await;
    let message = &report.messages[0];
    assert!(
        message.outcome.is_delivered(),
        "{}\n{}",
        message.outcome,
        report.transcript
    );
    let labels: Vec<&str> = message
        .recipients
        .iter()
        .map(|r| r.outcome.label())
        .collect();
    assert_eq!(
        labels,
        ["failed", "delivered", "deferred"],
        "{:?}",
        message.recipients
    );
    assert_eq!(
        message.recipients[0].outcome.reply().map(|r| r.code),
        Some(550)
    );
    assert_eq!(
        message.recipients[2].outcome.reply().map(|r| r.code),
        Some(450)
    );
    real::assert_arrived(&servers, &id);
}
