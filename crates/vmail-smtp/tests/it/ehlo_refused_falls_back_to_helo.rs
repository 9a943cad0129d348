//! An old server that answers EHLO with 502: HELO, and the mail goes.
use crate::common;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn helo_after_a_502_to_ehlo() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().ehlo_refused()).await?;
    let report = common::send_simple(common::settings(server.port())).await;
    common::assert_delivered(&report);
    let commands = server.commands();
    assert_eq!(&commands[..2], &["EHLO client.test", "HELO client.test"]);
    assert!(report.transcript.to_string().contains("S: 502 5.5.2"));
    Ok(())
}
