//! auth-type=auto with the oauth-* keys: OAUTHBEARER over XOAUTH2, and
//! never a password mechanism, even with auth-rsp set and PLAIN offered;
//! AUTH in clear is refused for a token as for a password.
use crate::common;
use common::oauth::{self, FakeTokens};
use std::sync::Arc;
use vmail_core::AuthType;
use vmail_smtp::{Mechanism, SmtpError};
use vmail_testkit::fault::FaultServer;

const TOKEN: &str = "token-for-auto";

async fn run(
    offer: &str,
    settings_for: impl Fn(u16) -> vmail_core::SmtpSettings,
) -> std::io::Result<(FaultServer, Arc<FakeTokens>, vmail_smtp::SessionReport)> {
    let server = FaultServer::start(oauth::script(&["PIPELINING", offer], &[TOKEN])).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&[TOKEN]));
    let mut settings = settings_for(server.port());
    settings.auth_responses = common::credentials();
    let report = oauth::send(settings, &tokens).await;
    Ok((server, tokens, report))
}

fn auto(port: u16) -> vmail_core::SmtpSettings {
    oauth::settings(port, AuthType::Auto)
}

#[tokio::test]
async fn auto_picks_oauthbearer_over_xoauth2_and_plain() -> std::io::Result<()> {
    let (server, _, report) = run("AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER", auto).await?;
    common::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::OAuthBearer));
    let auths: Vec<String> = oauth::auth_lines(&server.commands())
        .into_iter()
        .map(|(mechanism, _)| mechanism)
        .collect();
    assert_eq!(auths, vec!["OAUTHBEARER"]);
    oauth::assert_no_token(&report, &[TOKEN], server.port());
    common::assert_no_secret(&report, common::USER, common::PASSWORD);
    Ok(())
}

#[tokio::test]
async fn auto_takes_xoauth2_when_it_is_the_only_oauth_offer() -> std::io::Result<()> {
    let (_, _, report) = run("AUTH PLAIN XOAUTH2", auto).await?;
    common::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::XOAuth2));
    Ok(())
}

#[tokio::test]
async fn auto_with_oauth_keys_never_falls_back_to_a_password() -> std::io::Result<()> {
    let (server, tokens, report) = run("AUTH PLAIN LOGIN CRAM-MD5", auto).await?;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    assert!(matches!(
        report.session_error,
        Some(SmtpError::AuthMechanismNotOffered { .. })
    ));
    assert!(!server.received("AUTH"), "{:?}", server.commands());
    assert!(!server.received("MAIL"));
    assert!(tokens.calls().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_token_is_not_sent_in_clear_unless_allowed() -> std::io::Result<()> {
    let (server, tokens, report) = run("AUTH XOAUTH2 OAUTHBEARER", |port| {
        let mut settings = oauth::settings(port, AuthType::XOAuth2);
        settings.allow_plaintext_auth = false;
        settings
    })
    .await?;
    assert!(matches!(
        report.session_error,
        Some(SmtpError::PlaintextAuthRefused)
    ));
    assert!(!server.received("AUTH"));
    assert!(tokens.calls().is_empty(), "no token fetched for nothing");
    Ok(())
}
