//! A server that greets with 421 (busy, shutting down): the job waits.
use crate::common;
use vmail_smtp::{SmtpError, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn a_421_greeting_defers_every_message_with_the_reply() -> std::io::Result<()> {
    let server =
        FaultServer::start(Script::new().greeting("421 4.3.2 Service shutting down")).await?;
    let report = common::send_simple(common::settings(server.port())).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert_eq!(
        outcome.to_string(),
        "deferred: the server refused the connection in its greeting \
         (server said: 421 4.3.2 Service shutting down)"
    );
    assert!(matches!(
        report.session_error,
        Some(SmtpError::Greeting { .. })
    ));
    assert!(!server.received("EHLO"));
    Ok(())
}

#[tokio::test]
async fn a_multi_line_greeting_is_read_whole() -> std::io::Result<()> {
    let server =
        FaultServer::start(Script::new().greeting("220-fault.test ESMTP\r\n220 welcome")).await?;
    let session = Submitter::new(common::settings(server.port()))
        .connect()
        .await;
    let session = session.map_err(|f| std::io::Error::other(f.error.to_string()))?;
    assert_eq!(session.greeting().text, "fault.test ESMTP\nwelcome");
    session.quit().await;
    Ok(())
}
