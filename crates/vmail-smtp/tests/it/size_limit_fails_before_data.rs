//! A message over the server's announced SIZE fails before MAIL FROM; one
//! under it is announced with SIZE=.
use crate::common;
use vmail_smtp::{SmtpError, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn an_oversized_message_fails_without_being_sent() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().extensions(&["PIPELINING", "SIZE 1000"])).await?;
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(2000));
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![
            common::message("fax@example.test", &["a@example.test"], &big),
            common::simple(&["b@example.test"]),
        ])
        .await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_failed(), "{outcome}");
    assert!(matches!(
        report.messages[0].error.as_deref(),
        Some(SmtpError::SizeExceeded {
            size: 2018,
            limit: 1000
        })
    ));
    assert_eq!(
        outcome.to_string(),
        "failed: the message is 2018 bytes, over the 1000 bytes the server accepts (its SIZE); \
         it was not sent"
    );
    // The second message still goes, with SIZE= announced.
    assert!(
        report.messages[1].outcome.is_delivered(),
        "{}",
        report.messages[1].outcome
    );
    let mails: Vec<String> = server
        .commands()
        .into_iter()
        .filter(|c| c.starts_with("MAIL"))
        .collect();
    assert_eq!(mails, vec!["MAIL FROM:<fax@example.test> SIZE=43"]);
    Ok(())
}
