//! tls=starttls against a server that does not offer it: deferred with a
//! message saying so, and nothing sent in clear.
use crate::common;
use vmail_core::TlsMode;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn starttls_required_but_not_offered_defers() -> std::io::Result<()> {
    let server = FaultServer::start(Script::new()).await?;
    let mut settings = common::settings(server.port());
    settings.tls = TlsMode::StartTls;
    let report = common::send_simple(settings).await;
    let outcome = &report.messages[0].outcome;
    assert_eq!(
        outcome.to_string(),
        "deferred: tls=starttls is required but the server does not offer STARTTLS in its \
         EHLO reply"
    );
    assert!(!server.received("MAIL"));
    Ok(())
}
