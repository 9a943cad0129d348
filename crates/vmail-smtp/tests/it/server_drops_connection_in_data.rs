//! The server hangs up in the middle of DATA: deferred, and the next message
//! of the session is not tried over the dead connection.
use crate::common;
use vmail_smtp::Submitter;
use vmail_testkit::fault::{DataBehavior, FaultServer, Script};

#[tokio::test]
async fn a_disconnect_during_data_defers() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().data(DataBehavior::Disconnect)).await?;
    let big = format!("Subject: big\r\n\r\n{}", "x".repeat(200_000));
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![
            common::message("fax@example.test", &["a@example.test"], &big),
            common::simple(&["b@example.test"]),
        ])
        .await;
    let first = &report.messages[0].outcome;
    assert!(first.is_deferred(), "{first}");
    let second = &report.messages[1].outcome;
    assert!(second.is_deferred(), "{second}");
    assert!(second.to_string().contains("not tried"), "{second}");
    assert!(server.messages().is_empty());
    Ok(())
}
