//! No token to be had: deferred with the token source's summary and advice,
//! no AUTH sent, never a password instead. Without a token source at all,
//! the same typed error says so.
use crate::common;
use common::oauth::{self, FakeTokens};
use std::sync::Arc;
use vmail_core::{AuthType, TokenErrorKind};
use vmail_smtp::SmtpError;
use vmail_testkit::fault::{FaultServer, Script};

fn script() -> Script {
    oauth::script(&["AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER"], &["any"])
}

#[tokio::test]
async fn a_failing_token_source_defers_with_its_summary() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let tokens = Arc::new(FakeTokens::failing(
        TokenErrorKind::InvalidClient,
        "invalid_client: AADSTS7000215 invalid client secret provided",
    ));
    let mut settings = oauth::settings(server.port(), AuthType::Auto);
    // A password is configured too: it must not be tried instead.
    settings.auth_responses = common::credentials();
    let report = oauth::send(settings, &tokens).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert_eq!(
        outcome.to_string(),
        "deferred: no OAuth2 token for AUTH OAUTHBEARER: invalid_client: AADSTS7000215 invalid \
         client secret provided"
    );
    let advice = common::advice(&report);
    assert!(advice.contains("[VMAIL] oauth-client-secret"), "{advice}");
    assert!(matches!(
        &report.session_error,
        Some(SmtpError::OAuthToken { error, rejected: None, .. })
            if error.kind == TokenErrorKind::InvalidClient
    ));
    assert_eq!(tokens.calls(), vec![false]);
    assert!(!server.received("AUTH"), "{:?}", server.commands());
    assert!(!server.received("MAIL"));
    assert!(server.received("QUIT"));
    common::assert_no_secret(&report, common::USER, common::PASSWORD);
    Ok(())
}

#[tokio::test]
async fn no_token_source_attached_is_a_typed_error() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let report = common::send_simple(oauth::settings(server.port(), AuthType::XOAuth2)).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert!(matches!(
        &report.session_error,
        Some(SmtpError::OAuthToken { error, .. }) if error.kind == TokenErrorKind::NotConfigured
    ));
    assert!(
        outcome.to_string().contains("no OAuth2 token source"),
        "{outcome}"
    );
    assert!(!server.received("AUTH"));
    Ok(())
}

/// auth-type=xoauth2 without the oauth-* keys (vmail-config refuses this;
/// a library user may not): a typed error naming the keys.
#[tokio::test]
async fn xoauth2_without_the_oauth_keys_names_them() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let mut settings = oauth::settings(server.port(), AuthType::XOAuth2);
    settings.oauth = None;
    let tokens = Arc::new(FakeTokens::handing_out(&["any"]));
    let report = oauth::send(settings, &tokens).await;
    let outcome = report.messages[0].outcome.to_string();
    assert!(
        outcome.contains("auth-type=xoauth2 needs the [VMAIL] oauth-* keys"),
        "{outcome}"
    );
    assert!(tokens.calls().is_empty());
    assert!(!server.received("AUTH"));
    Ok(())
}

/// A token endpoint that accepts the request and never answers: the wait is
/// bounded by the session's step timeout, then deferred, no AUTH sent.
#[tokio::test]
async fn a_hanging_token_source_times_out_and_defers() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let tokens = Arc::new(FakeTokens::hanging());
    let mut settings = oauth::settings(server.port(), AuthType::XOAuth2);
    settings.timeout = std::time::Duration::from_millis(500);
    let report = oauth::send(settings, &tokens).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert!(matches!(
        &report.session_error,
        Some(SmtpError::OAuthToken { error, .. }) if error.kind == TokenErrorKind::Unreachable
    ));
    assert!(
        outcome
            .to_string()
            .contains("the token endpoint gave no token within 0.5 s"),
        "{outcome}"
    );
    assert_eq!(tokens.calls(), vec![false]);
    assert!(!server.received("AUTH"));
    Ok(())
}
