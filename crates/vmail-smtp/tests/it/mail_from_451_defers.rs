//! 451 to MAIL FROM: the message waits, with the server's reply kept.
use crate::common;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn a_451_to_mail_from_defers_and_keeps_the_enhanced_code() -> std::io::Result<()> {
    let server =
        FaultServer::start(Script::new().mail_reply("451 4.3.0 Temporary lookup failure")).await?;
    let report = common::send_simple(common::hurried(server.port())).await;
    let message = &report.messages[0];
    assert!(message.outcome.is_deferred(), "{}", message.outcome);
    let reply = message
        .outcome
        .reply()
        .cloned()
        .unwrap_or_else(|| panic!("no reply"));
    assert_eq!(reply.to_string(), "451 4.3.0 Temporary lookup failure");
    assert!(message.recipients.iter().all(|r| r.outcome.is_deferred()));
    assert!(server.messages().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_550_to_mail_from_fails() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().mail_reply("550 5.7.1 Sender rejected")).await?;
    let report = common::send_simple(common::hurried(server.port())).await;
    assert!(
        report.messages[0].outcome.is_failed(),
        "{}",
        report.messages[0].outcome
    );
    Ok(())
}
