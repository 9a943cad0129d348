//! A daemon records the previous message while the next one goes out: the
//! next message's envelope and data may be on the wire, but its final dot
//! (the moment the server may take it for good) waits for that record.

use crate::common;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;
use tokio::sync::oneshot;
use vmail_smtp::{BeforeEnd, Submitter};
use vmail_testkit::fault::{FaultServer, Script};
use vmail_testkit::process::holds_within;

#[tokio::test]
async fn the_dot_is_sent_only_after_the_gate_opens() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().extensions(&["PIPELINING"])).await?;
    let submitter = Submitter::new(common::settings(server.port()));
    let mut session = submitter
        .connect()
        .await
        .map_err(|failure| std::io::Error::other(failure.error))?;

    let reached = Arc::new(AtomicBool::new(false));
    let (open, opened) = oneshot::channel::<()>();
    let gate: BeforeEnd = Box::pin({
        let reached = Arc::clone(&reached);
        async move {
            reached.store(true, SeqCst);
            let _ = opened.await;
        }
    });
    let outgoing = common::simple(&["a@example.test"]);
    let sending = tokio::spawn(async move {
        let mut gate = Some(gate);
        let report = session
            .send_gated(&outgoing.envelope, outgoing.body, &mut gate)
            .await;
        (report, gate.is_none(), session)
    });

    assert!(
        holds_within(Duration::from_secs(5), || reached.load(SeqCst)).await,
        "the session never reached the final dot"
    );
    assert!(server.received("DATA"), "{:?}", server.commands());
    // Were the dot sent despite the closed gate, the server would have the
    // message within milliseconds; give it far more than that.
    assert!(
        !holds_within(Duration::from_millis(300), || !server.messages().is_empty()).await,
        "the server took the message before the gate opened"
    );
    let _ = open.send(());
    let (report, gate_taken, session) = sending.await.map_err(std::io::Error::other)?;
    assert!(report.outcome.is_delivered(), "{}", report.outcome);
    assert!(gate_taken, "the gate was awaited, so it is used up");
    assert_eq!(server.messages().len(), 1);
    session.quit().await;
    Ok(())
}

#[tokio::test]
async fn a_message_refused_before_data_leaves_the_gate_to_the_caller() -> std::io::Result<()> {
    let server = FaultServer::start(
        Script::new()
            .extensions(&["PIPELINING"])
            .rcpt_reply("nobody@example.test", "550 5.1.1 no such user"),
    )
    .await?;
    let submitter = Submitter::new(common::settings(server.port()));
    let mut session = submitter
        .connect()
        .await
        .map_err(|failure| std::io::Error::other(failure.error))?;
    let mut gate: Option<BeforeEnd> = Some(Box::pin(async {}));
    let outgoing = common::simple(&["nobody@example.test"]);
    let report = session
        .send_gated(&outgoing.envelope, outgoing.body, &mut gate)
        .await;
    assert!(!report.outcome.is_delivered(), "{}", report.outcome);
    assert!(
        gate.is_some(),
        "no dot was sent, so the record is still the caller's to await"
    );
    session.quit().await;
    Ok(())
}
