//! A server offering only CRAM-MD5: auto picks it; a configured PLAIN is
//! deferred with the list of what the server offers.
use crate::common;
use vmail_core::AuthType;
use vmail_smtp::Mechanism;
use vmail_testkit::fault::{FaultServer, Script};

fn script() -> Script {
    Script::new().extensions(&["PIPELINING", "AUTH CRAM-MD5"])
}

#[tokio::test]
async fn auto_logs_in_with_cram_md5() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let mut settings = common::settings(server.port());
    common::login_in_clear(&mut settings, AuthType::Auto);
    let report = common::send_simple(settings).await;
    common::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::CramMd5));
    let forms = common::secret_forms(common::USER, common::PASSWORD);
    let cram_answer = &forms[4];
    assert!(
        server.commands().contains(cram_answer),
        "{:?}",
        server.commands()
    );
    common::assert_no_secret(&report, common::USER, common::PASSWORD);
    Ok(())
}

#[tokio::test]
async fn plain_configured_but_not_offered_defers_listing_the_offer() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let mut settings = common::settings(server.port());
    common::login_in_clear(&mut settings, AuthType::Plain);
    let report = common::send_simple(settings).await;
    let outcome = &report.messages[0].outcome;
    assert_eq!(
        outcome.to_string(),
        "deferred: the server does not offer AUTH PLAIN; it offers: CRAM-MD5"
    );
    assert!(!server.received("AUTH") && !server.received("MAIL"));
    Ok(())
}
