//! A 550 for one recipient fails that recipient only; the others get the
//! message. With every recipient refused there is no DATA at all.
use crate::common;
use vmail_smtp::{SmtpError, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn a_refused_recipient_fails_alone() -> std::io::Result<()> {
    let script = Script::new()
        .rcpt_reply(
            "nobody@example.test",
            "550 5.1.1 <nobody@example.test>: Recipient address rejected",
        )
        .rcpt_reply("later@example.test", "450 4.2.0 try later");
    let server = FaultServer::start(script).await?;
    let to = [
        "a@example.test",
        "nobody@example.test",
        "later@example.test",
        "b@example.test",
    ];
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![common::simple(&to)])
        .await;
    let message = &report.messages[0];
    assert!(message.outcome.is_delivered(), "{}", message.outcome);
    let labels: Vec<(&str, &str)> = message
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.outcome.label()))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("a@example.test", "delivered"),
            ("nobody@example.test", "failed"),
            ("later@example.test", "deferred"),
            ("b@example.test", "delivered"),
        ]
    );
    let refused = message.recipients[1].outcome.reply().map(|r| r.code);
    assert_eq!(refused, Some(550));
    assert_eq!(server.messages().len(), 1);
    Ok(())
}

#[tokio::test]
async fn with_every_recipient_refused_no_data_is_sent() -> std::io::Result<()> {
    let script = Script::new()
        .extensions(&["ENHANCEDSTATUSCODES"]) // no PIPELINING: DATA only when earned
        .rcpt_reply("x@example.test", "550 5.1.1 no such user")
        .rcpt_reply("y@example.test", "550 5.1.1 no such user");
    let server = FaultServer::start(script).await?;
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![common::simple(&["x@example.test", "y@example.test"])])
        .await;
    let message = &report.messages[0];
    assert!(message.outcome.is_failed(), "{}", message.outcome);
    assert!(matches!(
        message.error.as_deref(),
        Some(SmtpError::RecipientsRefused { .. })
    ));
    assert!(!server.received("DATA"));
    assert!(message.recipients.iter().all(|r| r.outcome.is_failed()));
    Ok(())
}
