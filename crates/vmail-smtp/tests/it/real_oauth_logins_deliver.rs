//! XOAUTH2 and OAUTHBEARER against the real Postfix OAuth listener, whose
//! Dovecot introspects each token at the testkit's token service: a live
//! token delivers; a revoked one gets Dovecot's 334 JSON, one forced refresh
//! and delivers in the same session; a bogus one is tried twice and
//! deferred with the 535 and the decoded status. The session gets its
//! tokens from a fake source handed tokens fetched here by client
//! credentials (the token client itself is vmail-oauth's to test).
use crate::common;
use common::oauth::{self, FakeTokens};
use common::real;
use std::sync::Arc;
use std::time::Duration;
use vmail_core::{AuthType, SmtpSettings, TlsMode};
use vmail_smtp::{Mechanism, SessionReport, SmtpError, Submitter};
use vmail_testkit::oauth::{
    ClientSpec, Grant, TokenServiceClient, TokenServiceControl, unique_client_id,
};

const SECRET: &str = "real-oauth-client-secret";

/// A registered client for `mailbox` and a token from it.
fn client(servers: &real::Servers, prefix: &str) -> (TokenServiceClient, String, String) {
    let service =
        TokenServiceClient::from_servers(servers).unwrap_or_else(|e| panic!("token service: {e}"));
    let id = unique_client_id(prefix);
    let spec = ClientSpec::new(&id, &servers.user.user)
        .with_secret(SECRET)
        .with_grants(&[Grant::ClientCredentials])
        .with_token_lifetime(Duration::from_secs(300));
    service
        .register_client(&spec)
        .unwrap_or_else(|e| panic!("register: {e}"));
    let token = new_token(&service, &id);
    (service, id, token)
}

fn new_token(service: &TokenServiceClient, id: &str) -> String {
    service
        .client_credentials(id, SECRET, None)
        .unwrap_or_else(|e| panic!("token: {e}"))
        .access_token
}

fn settings(servers: &real::Servers, auth_type: AuthType) -> SmtpSettings {
    let mut settings = real::settings(servers, servers.oauth_port, TlsMode::StartTls);
    settings.auth_type = auth_type;
    settings.oauth = Some(oauth::oauth_settings(&servers.user.user));
    settings
}

/// One session with `tokens` as its token source, sending
/// [`real::to_user`] under a new Message-ID tagged `tag`: the report and
/// that Message-ID.
async fn send(
    servers: &real::Servers,
    settings: SmtpSettings,
    tokens: &Arc<FakeTokens>,
    tag: &str,
) -> (SessionReport, String) {
    let id = real::message_id(tag);
    let report = Submitter::new(settings)
        .with_tokens(tokens.clone())
        .send(vec![real::to_user(servers, &id)])
        .await;
    (report, id)
}

/// No form of `tokens` for the test user on the OAuth listener, nor the
/// client secret, is shown anywhere in the report.
fn assert_no_token(servers: &real::Servers, report: &SessionReport, tokens: &[&str]) {
    oauth::assert_no_token_for(report, tokens, &servers.user.user, servers.oauth_port);
}

/// Refused twice (the second token after a refresh): deferred with the 535.
fn assert_deferred_with_535(report: &SessionReport) {
    common::assert_deferred(report);
    assert_eq!(
        report.messages[0].outcome.reply().map(|r| r.code),
        Some(535),
        "{}",
        report.transcript
    );
}

#[tokio::test]
async fn xoauth2_delivers_with_a_live_token() {
    let servers = real::servers();
    let (_, _, token) = client(&servers, "smtp-xoauth2");
    let tokens = Arc::new(FakeTokens::handing_out(&[&token]));
    let settings = settings(&servers, AuthType::XOAuth2);
    let (report, id) = send(&servers, settings, &tokens, "xoauth2").await;
    real::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::XOAuth2));
    real::assert_arrived(&servers, &id);
    assert_eq!(tokens.calls(), vec![false]);
    assert_no_token(&servers, &report, &[&token]);
}

/// The listener offers `LOGIN XOAUTH2 OAUTHBEARER` like Microsoft 365: auto
/// with the oauth-* keys takes OAUTHBEARER (host and port in the GS2
/// response), never LOGIN.
#[tokio::test]
async fn auto_takes_oauthbearer_and_delivers() {
    let servers = real::servers();
    let (_, _, token) = client(&servers, "smtp-auto");
    let tokens = Arc::new(FakeTokens::handing_out(&[&token]));
    let mut settings = settings(&servers, AuthType::Auto);
    real::login(&mut settings, AuthType::Auto, &servers.user);
    let (report, _) = send(&servers, settings, &tokens, "oauthbearer").await;
    real::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::OAuthBearer));
    let transcript = report.transcript.to_string();
    assert!(!transcript.contains("C: AUTH LOGIN"), "{transcript}");
    assert!(
        transcript.contains("C: AUTH OAUTHBEARER <redacted>"),
        "{transcript}"
    );
    assert_no_token(&servers, &report, &[&token]);
    common::assert_no_secret(&report, &servers.user.user, &servers.user.password);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_delivers() {
    let servers = real::servers();
    let (service, client_id, stale) = client(&servers, "smtp-revoked");
    service
        .revoke_tokens(&client_id)
        .unwrap_or_else(|e| panic!("revoke: {e}"));
    service
        .reinstate_client(&client_id)
        .unwrap_or_else(|e| panic!("reinstate: {e}"));
    let fresh = new_token(&service, &client_id);
    let tokens = Arc::new(FakeTokens::handing_out(&[&stale, &fresh]));
    let settings = settings(&servers, AuthType::XOAuth2);
    let (report, _) = send(&servers, settings, &tokens, "refreshed").await;
    real::assert_delivered(&report);
    assert_eq!(tokens.calls(), vec![false, true]);
    let transcript = report.transcript.to_string();
    assert!(
        transcript.contains("* the server refused the OAuth2 token: status 401"),
        "{transcript}"
    );
    assert_eq!(transcript.matches("C: AUTH XOAUTH2 <redacted>").count(), 2);
    assert_no_token(&servers, &report, &[&stale, &fresh]);
}

#[tokio::test]
async fn bogus_tokens_are_tried_twice_then_deferred() {
    let servers = real::servers();
    let bogus = ["vmail-at-0000not-a-token", "vmail-at-0001not-a-token"];
    let tokens = Arc::new(FakeTokens::handing_out(&bogus));
    let settings = settings(&servers, AuthType::OAuthBearer);
    let (report, _) = send(&servers, settings, &tokens, "bogus").await;
    assert_deferred_with_535(&report);
    assert_eq!(tokens.calls(), vec![false, true]);
    match &report.session_error {
        Some(SmtpError::OAuthRejected {
            status, refreshed, ..
        }) => {
            assert!(*refreshed);
            assert!(
                status.as_ref().is_some_and(|s| s.status.is_some()),
                "{status:?}"
            );
        }
        other => panic!("expected OAuthRejected, got {other:?}"),
    }
    let transcript = report.transcript.to_string();
    assert_eq!(
        transcript.matches("C: AUTH OAUTHBEARER <redacted>").count(),
        2
    );
    assert!(
        transcript.contains("C: AQ== (the empty response)"),
        "{transcript}"
    );
    assert_no_token(&servers, &report, &bogus);
}

/// A token too long for a 512-byte AUTH line (Microsoft's JWTs are) goes
/// after Postfix's empty 334: Postfix and Dovecot read it whole and answer
/// it (here with the JSON challenge and 535, the token being made up).
#[tokio::test]
async fn a_long_token_goes_after_the_334_and_is_answered() {
    let servers = real::servers();
    let long = format!("vmail-at-{}", "x".repeat(1500));
    let tokens = Arc::new(FakeTokens::handing_out(&[&long]));
    let settings = settings(&servers, AuthType::XOAuth2);
    let (report, _) = send(&servers, settings, &tokens, "long").await;
    assert_deferred_with_535(&report);
    let transcript = report.transcript.to_string();
    assert_eq!(
        transcript.matches("C: AUTH XOAUTH2\n").count(),
        2,
        "{transcript}"
    );
    assert!(
        transcript.contains("* the server refused the OAuth2 token: status"),
        "{transcript}"
    );
    assert_no_token(&servers, &report, &[&long]);
}
