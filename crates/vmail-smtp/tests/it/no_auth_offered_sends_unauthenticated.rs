//! auth-type is set but the server offers no AUTH: the mail goes without a
//! login, and the transcript says so.
use crate::common;
use vmail_core::AuthType;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn no_auth_offered_sends_without_login_and_warns() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new()).await?;
    let mut settings = common::settings(server.port());
    common::login(&mut settings, AuthType::Plain);
    let report = common::send_simple(settings).await;
    common::assert_delivered(&report);
    assert!(!server.received("AUTH"));
    assert!(report.authenticated.is_none());
    let warnings: Vec<&str> = report.transcript.notes().collect();
    assert!(
        warnings
            .contains(&"auth-type=plain but the server offers no AUTH: sending without logging in"),
        "{warnings:?}"
    );
    Ok(())
}
