//! Several messages over one connection: one EHLO, one login, RSET between.
use crate::common;
use vmail_core::AuthType;
use vmail_smtp::Submitter;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn three_messages_one_login_rset_between() -> std::io::Result<()> {
    let server =
        FaultServer::start(Script::new().extensions(&["PIPELINING", "AUTH PLAIN"])).await?;
    let mut settings = common::settings(server.port());
    common::login_in_clear(&mut settings, AuthType::Auto);
    let report = Submitter::new(settings)
        .send(vec![
            common::simple(&["a@example.test"]),
            common::message(
                "",
                &["b@example.test"],
                "Subject: bounce\r\n\r\nnull sender\r\n",
            ),
            common::simple(&["c@example.test"]),
        ])
        .await;
    common::assert_delivered(&report);
    let replies: Vec<String> = report
        .messages
        .iter()
        .filter_map(|m| m.outcome.reply().map(|r| r.to_string()))
        .collect();
    assert_eq!(replies[2], "250 2.0.0 Ok: queued as FAULT3");
    assert_eq!(server.connections(), 1);
    let verbs: Vec<String> = server
        .commands()
        .iter()
        .map(|c| c.split([' ', ':']).next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        verbs,
        [
            "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA", "RSET", "MAIL",
            "RCPT", "DATA", "QUIT"
        ]
    );
    assert!(server.commands().contains(&"MAIL FROM:<>".to_string()));
    // Each message knows its own part of the transcript.
    let lines = report.transcript.lines();
    let second: Vec<String> = lines[report.messages[1].transcript_lines.clone()]
        .iter()
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(second.first().map(String::as_str), Some("RSET"));
    assert!(second.contains(&"MAIL FROM:<>".to_string()), "{second:?}");
    assert!(
        second
            .last()
            .is_some_and(|l| l.starts_with("250 2.0.0 Ok: queued as FAULT2"))
    );
    Ok(())
}
