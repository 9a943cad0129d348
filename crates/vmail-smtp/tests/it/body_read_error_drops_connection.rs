//! The message source fails in the middle of DATA: the connection is dropped
//! without the final dot, so no truncated message is ever delivered.
use crate::common;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use vmail_core::Envelope;
use vmail_smtp::{Body, Outgoing, SmtpError, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

/// Gives some bytes, then an error.
struct Failing {
    given: bool,
}

impl AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.given {
            return Poll::Ready(Err(std::io::Error::other("disk on fire")));
        }
        self.given = true;
        buf.put_slice(b"Subject: half\r\n\r\nthe first half\r\n");
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_read_error_mid_data_defers_and_sends_no_final_dot() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new()).await?;
    let failing = Outgoing::new(
        Envelope::new("fax@example.test", vec!["a@example.test".into()]),
        Body::Reader {
            reader: Box::new(Failing { given: false }),
            size: None,
        },
    );
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![failing, common::simple(&["b@example.test"])])
        .await;
    assert!(matches!(
        report.messages[0].error.as_deref(),
        Some(SmtpError::BodyRead { .. })
    ));
    assert!(report.messages[0].outcome.is_deferred());
    assert!(report.messages[1].outcome.is_deferred());
    assert!(
        server.messages().is_empty(),
        "a truncated message was accepted"
    );
    Ok(())
}
