//! A token too long for a 512-byte AUTH line (RFC 5321's command line limit,
//! which RFC 4954 §4 keeps for AUTH) goes as the answer to the server's empty
//! 334 instead of as the initial response, and still delivers.
use crate::common;
use common::oauth::{self, FakeTokens, MAILBOX};
use std::sync::Arc;
use vmail_core::AuthType;
use vmail_testkit::fault::FaultServer;

#[tokio::test]
async fn a_long_token_is_sent_after_the_prompt() -> std::io::Result<()> {
    let token = format!("eyJ0eXAiOiJKV1Qi.{}.sig", "a".repeat(1500));
    let server = FaultServer::start(oauth::script(&["AUTH XOAUTH2"], &[&token])).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&[&token]));
    let report = oauth::send(oauth::settings(server.port(), AuthType::XOAuth2), &tokens).await;
    common::assert_delivered(&report);
    let commands = server.commands();
    let at = commands.iter().position(|c| c == "AUTH XOAUTH2");
    assert!(at.is_some(), "{commands:?}");
    let response = at
        .and_then(|i| commands.get(i + 1))
        .cloned()
        .unwrap_or_default();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(response)
        .unwrap_or_default();
    assert_eq!(
        decoded,
        format!("user={MAILBOX}\x01auth=Bearer {token}\x01\x01").into_bytes()
    );
    let transcript = report.transcript.to_string();
    assert!(transcript.contains("C: AUTH XOAUTH2\n"), "{transcript}");
    assert!(transcript.contains("C: <redacted>\n"), "{transcript}");
    oauth::assert_no_token(&report, &[&token], server.port());
    Ok(())
}
