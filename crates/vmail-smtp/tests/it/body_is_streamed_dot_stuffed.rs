//! A 1 MB body from a reader arrives with CRLF line ends and dot-stuffed
//! lines, in large writes.
use crate::common;
use vmail_core::Envelope;
use vmail_smtp::{Body, Outgoing, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn a_megabyte_with_bare_lf_and_dot_lines_arrives_intact() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new()).await?;
    let mut body = b"Subject: big\n\n".to_vec();
    while body.len() < 1_000_000 {
        body.extend_from_slice(b"a line of text\n.\n.leading dot\n");
    }
    body.extend_from_slice(b"no final newline");
    let expected = String::from_utf8_lossy(&body)
        .replace('\n', "\r\n")
        .replace("\r\n.", "\r\n..")
        + "\r\n";
    let size = body.len() as u64;
    let reader = Box::new(std::io::Cursor::new(body));
    let message = Outgoing::new(
        Envelope::new("fax@example.test", vec!["a@example.test".into()]),
        Body::Reader {
            reader,
            size: Some(size),
        },
    );
    let report = Submitter::new(common::settings(server.port()))
        .send(vec![message])
        .await;
    common::assert_delivered(&report);
    assert_eq!(report.messages[0].bytes, size);
    let received = server.messages();
    assert_eq!(received.len(), 1);
    assert!(received[0] == expected.as_bytes(), "body differs");
    let transcript = report.transcript.to_string();
    assert!(
        transcript.contains(&format!("C: <message: {size} bytes")),
        "{transcript}"
    );
    assert!(!transcript.contains("a line of text"));
    Ok(())
}
