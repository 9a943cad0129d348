//! tls=opportunistic: STARTTLS where offered (the submission port), plain
//! text where not (the plain port); both deliver.
use crate::common;
use common::real;
use vmail_core::TlsMode;
use vmail_smtp::Submitter;

#[tokio::test]
async fn starttls_when_offered_plain_otherwise() {
    let servers = real::servers();
    // The submission port relays only for logged-in users; use the plain
    // port's relay for delivery and the submission port only for TLS.
    let settings = real::settings(&servers, servers.submission_port, TlsMode::Opportunistic);
    let session = Submitter::new(settings).connect().await;
    let session = session.unwrap_or_else(|f| panic!("{}\n{}", f.error, f.transcript));
    assert!(session.tls().is_some());
    assert!(
        session.extensions().offers_auth(),
        "AUTH is offered after TLS"
    );
    session.quit().await;

    let settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::Opportunistic);
    let (report, id) = real::send_to_user(&servers, settings, "opportunistic").await;
    real::assert_delivered(&report);
    assert!(report.tls.is_none());
    real::assert_arrived(&servers, &id);
}
