//! An old server that answers EHLO with 502: HELO, and the mail goes.
use crate::common;
use vmail_smtp::Submitter;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn helo_after_a_502_to_ehlo() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().ehlo_refused()).await?;
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![common::simple(&["a@example.test"])])
        .await;
    assert!(
        report.messages[0].outcome.is_delivered(),
        "{}",
        report.messages[0].outcome
    );
    let commands = server.commands();
    assert_eq!(&commands[..2], &["EHLO client.test", "HELO client.test"]);
    assert!(report.transcript.to_string().contains("S: 502 5.5.2"));
    Ok(())
}
