//! A message whose file is gone: that message is deferred naming the file,
//! before MAIL FROM; the session goes on for the next one.
use crate::common;
use vmail_core::Envelope;
use vmail_smtp::{Body, Outgoing, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn a_missing_body_file_defers_naming_it() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new()).await?;
    let missing = std::env::temp_dir().join("vmail-smtp-test-no-such-message.eml");
    let gone = Outgoing::new(
        Envelope::new("fax@example.test", vec!["a@example.test".into()]),
        Body::File(missing.clone()),
    );
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![gone, common::simple(&["b@example.test"])])
        .await;
    let outcome = report.messages[0].outcome.to_string();
    assert!(report.messages[0].outcome.is_deferred(), "{outcome}");
    assert!(
        outcome.contains(&missing.display().to_string()),
        "{outcome}"
    );
    assert!(
        report.messages[1].outcome.is_delivered(),
        "{}",
        report.messages[1].outcome
    );
    assert_eq!(server.messages().len(), 1);
    Ok(())
}
