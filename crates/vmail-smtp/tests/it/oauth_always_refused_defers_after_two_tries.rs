//! A server that refuses every token: exactly two AUTH attempts (the second
//! after one forced refresh), then Deferred with the server's reply and the
//! decoded status; never a loop, never MAIL FROM, no token shown.
use crate::common;
use common::oauth::{self, FakeTokens, MAILBOX};
use std::sync::Arc;
use vmail_core::AuthType;
use vmail_smtp::{OAuthStatus, SmtpError};
use vmail_testkit::fault::{FaultServer, Script};

const TOKENS: [&str; 3] = ["first-refused-token", "second-refused-token", "never-asked"];

#[tokio::test]
async fn two_attempts_then_deferred_with_reply_and_status() -> std::io::Result<()> {
    let server = FaultServer::start(oauth::script(&["AUTH XOAUTH2"], &[])).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&TOKENS));
    let report = oauth::send(oauth::settings(server.port(), AuthType::XOAuth2), &tokens).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert_eq!(outcome.reply().map(|r| r.code), Some(535));
    assert_eq!(
        outcome.to_string(),
        format!(
            "deferred: the server rejected the OAuth2 token for {MAILBOX} (AUTH XOAUTH2, status \
             401, schemes bearer, scope https://mail.example.test/smtp), a freshly fetched one \
             too (server said: 535 5.7.8 Authentication failed)"
        )
    );
    let advice = common::advice(&report);
    assert!(advice.contains("[VMAIL] oauth-user"), "{advice}");
    match &report.session_error {
        Some(SmtpError::OAuthRejected {
            reply,
            status,
            refreshed,
            ..
        }) => {
            assert_eq!(reply.code, 535);
            assert!(*refreshed);
            assert_eq!(
                status.as_deref(),
                Some(&OAuthStatus {
                    status: Some("401".into()),
                    schemes: Some("bearer".into()),
                    scope: Some("https://mail.example.test/smtp".into()),
                })
            );
        }
        other => panic!("expected OAuthRejected, got {other:?}"),
    }
    assert_eq!(tokens.calls(), vec![false, true]);
    assert_eq!(
        oauth::auth_count(&server.commands()),
        2,
        "{:?}",
        server.commands()
    );
    assert!(!server.received("MAIL"), "{:?}", server.commands());
    oauth::assert_no_token(&report, &TOKENS, server.port());
    Ok(())
}

/// Microsoft answers a token it will not take with `535 5.7.3` at once, no
/// challenge: the same one refresh, then deferred.
#[tokio::test]
async fn a_direct_535_without_challenge_is_refreshed_once_too() -> std::io::Result<()> {
    let script = Script::new().extensions(&["AUTH LOGIN XOAUTH2"]).oauth(
        &[],
        "",
        "535 5.7.3 Authentication unsuccessful",
    );
    let server = FaultServer::start(script).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&TOKENS));
    let report = oauth::send(oauth::settings(server.port(), AuthType::Auto), &tokens).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert_eq!(
        outcome.reply().map(|r| r.to_string()),
        Some("535 5.7.3 Authentication unsuccessful".to_string())
    );
    assert!(matches!(
        &report.session_error,
        Some(SmtpError::OAuthRejected {
            status: None,
            refreshed: true,
            ..
        })
    ));
    assert_eq!(tokens.calls(), vec![false, true]);
    let commands = server.commands();
    assert_eq!(oauth::auth_count(&commands), 2);
    assert!(!commands.iter().any(|c| c.starts_with("AUTH LOGIN")));
    oauth::assert_no_token(&report, &TOKENS, server.port());
    Ok(())
}

/// A 4xx says the server could not check the token now: a new token would
/// not help, so no refresh.
#[tokio::test]
async fn a_temporary_failure_is_not_refreshed() -> std::io::Result<()> {
    let script = Script::new().extensions(&["AUTH OAUTHBEARER"]).oauth(
        &[],
        oauth::ERROR_JSON,
        "454 4.7.0 Temporary authentication failure",
    );
    let server = FaultServer::start(script).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&TOKENS));
    let report = oauth::send(
        oauth::settings(server.port(), AuthType::OAuthBearer),
        &tokens,
    )
    .await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert_eq!(outcome.reply().map(|r| r.code), Some(454));
    assert_eq!(tokens.calls(), vec![false]);
    assert_eq!(oauth::auth_count(&server.commands()), 1);
    oauth::assert_no_token(&report, &TOKENS, server.port());
    Ok(())
}

/// A server that hangs up after refusing the first token: the job keeps that
/// refusal (reply and status), not a bare "connection closed".
#[tokio::test]
async fn a_server_that_hangs_up_after_the_refusal_keeps_its_reply() -> std::io::Result<()> {
    let script = oauth::script(&["AUTH XOAUTH2"], &[]).oauth_close_after_rejection();
    let server = FaultServer::start(script).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&TOKENS));
    let report = oauth::send(oauth::settings(server.port(), AuthType::XOAuth2), &tokens).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert_eq!(outcome.reply().map(|r| r.code), Some(535), "{outcome}");
    assert!(matches!(
        &report.session_error,
        Some(SmtpError::OAuthRejected {
            status: Some(_),
            refreshed: false,
            ..
        })
    ));
    assert!(
        report
            .transcript
            .to_string()
            .contains("* the server closed the connection after refusing the OAuth2 token")
    );
    assert_eq!(tokens.calls(), vec![false, true]);
    oauth::assert_no_token(&report, &TOKENS, server.port());
    Ok(())
}
