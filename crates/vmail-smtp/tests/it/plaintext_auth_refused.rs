//! AUTH over an unencrypted link is refused unless allow-plaintext-auth=yes.
use crate::common;
use vmail_core::AuthType;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn auth_in_clear_is_refused_naming_the_key() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().extensions(&["AUTH PLAIN LOGIN"])).await?;
    let mut settings = common::settings(server.port());
    common::login(&mut settings, AuthType::Plain);
    let report = common::send_simple(settings).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    let advice = common::advice(&report);
    assert!(advice.contains("allow-plaintext-auth=yes"), "{advice}");
    assert!(!server.received("AUTH") && !server.received("MAIL"));
    Ok(())
}

#[tokio::test]
async fn plain_auth_in_clear_when_allowed_sends_the_seed_blob_masked() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new().extensions(&["AUTH PLAIN LOGIN"])).await?;
    let mut settings = common::settings(server.port());
    common::login_in_clear(&mut settings, AuthType::Plain);
    let report = common::send_simple(settings).await;
    common::assert_delivered(&report);
    assert!(
        server
            .commands()
            .contains(&"AUTH PLAIN AGptczFAam1zMS5uZXQAbm90Lm15LnJlYWwucGFzc3dvcmQ=".to_string())
    );
    assert!(
        report
            .transcript
            .to_string()
            .contains("C: AUTH PLAIN <redacted>")
    );
    common::assert_no_secret(&report, common::USER, common::PASSWORD);
    Ok(())
}
