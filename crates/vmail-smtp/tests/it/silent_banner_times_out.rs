//! A server that accepts the connection and never says hello: deferred after
//! the timeout, never a hang.
use crate::common;
use std::time::{Duration, Instant};
use vmail_smtp::{SmtpError, Step};
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn a_silent_banner_defers_after_the_timeout() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().silent_banner()).await?;
    let started = Instant::now();
    let report = common::send_simple(common::hurried(server.port())).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(matches!(
        report.session_error,
        Some(SmtpError::Timeout {
            step: Step::Greeting,
            ..
        })
    ));
    let outcome = &report.messages[0].outcome;
    assert_eq!(
        outcome.to_string(),
        "deferred: no answer from the server within 0.5 s during waiting for the greeting"
    );
    Ok(())
}
