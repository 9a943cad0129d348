//! The server takes the data and never answers the final dot: deferred after
//! the timeout, never a hang.
use crate::common;
use std::time::{Duration, Instant};
use vmail_smtp::{SmtpError, Step};
use vmail_testkit::fault::{DataBehavior, FaultServer, Script};

#[tokio::test]
async fn a_stall_after_the_data_defers_after_the_timeout() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().data(DataBehavior::Stall)).await?;
    let started = Instant::now();
    let report = common::send_simple(common::hurried(server.port())).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let message = &report.messages[0];
    assert!(message.outcome.is_deferred(), "{}", message.outcome);
    assert!(matches!(
        message.error.as_deref(),
        Some(SmtpError::Timeout {
            step: Step::DataEnd,
            ..
        })
    ));
    Ok(())
}
