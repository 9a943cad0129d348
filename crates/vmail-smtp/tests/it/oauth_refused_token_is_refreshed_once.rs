//! The server refuses the cached token with the 334 error JSON: the status
//! is decoded into the transcript, the empty response sent, one forced
//! refresh, and the second token delivers in the same session.
use crate::common::oauth::{self, FakeTokens};
use std::sync::Arc;
use vmail_core::AuthType;
use vmail_testkit::fault::FaultServer;

const STALE: &str = "stale-token-revoked-at-noon";
const FRESH: &str = "fresh-token-after-refresh";

async fn refreshed_once(auth_type: AuthType, mechanism: &str, empty: &str) -> std::io::Result<()> {
    let server = FaultServer::start(oauth::script(&["AUTH XOAUTH2 OAUTHBEARER"], &[FRESH])).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&[STALE, FRESH]));
    let report = oauth::send(oauth::settings(server.port(), auth_type), &tokens).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_delivered(), "{outcome}");
    assert_eq!(tokens.calls(), vec![false, true], "one forced refresh");
    let commands = server.commands();
    assert_eq!(server.connections(), 1, "the same session");
    assert_eq!(oauth::auth_count(&commands), 2, "{commands:?}");
    // The empty response right after the first AUTH.
    let first = commands.iter().position(|c| c.starts_with("AUTH"));
    assert_eq!(
        first.and_then(|i| commands.get(i + 1)).map(String::as_str),
        Some(empty)
    );
    let transcript = report.transcript.to_string();
    assert!(
        transcript.contains(
            "* the server refused the OAuth2 token: status 401, schemes bearer, scope \
             https://mail.example.test/smtp"
        ),
        "{transcript}"
    );
    assert_eq!(
        transcript
            .matches(&format!("C: AUTH {mechanism} <redacted>"))
            .count(),
        2,
        "{transcript}"
    );
    assert!(transcript.contains("S: 535 5.7.8 Authentication failed"));
    oauth::assert_no_token(&report, &[STALE, FRESH], server.port());
    Ok(())
}

#[tokio::test]
async fn xoauth2_refresh_once_then_delivered() -> std::io::Result<()> {
    refreshed_once(AuthType::XOAuth2, "XOAUTH2", "").await
}

#[tokio::test]
async fn oauthbearer_answers_the_challenge_with_0x01_then_delivered() -> std::io::Result<()> {
    refreshed_once(AuthType::OAuthBearer, "OAUTHBEARER", "AQ==").await
}
