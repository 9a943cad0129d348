//! tls=starttls against the port that offers no STARTTLS: deferred, saying so.
use crate::common;
use common::real;
use vmail_core::TlsMode;
use vmail_smtp::SmtpError;

#[tokio::test]
async fn starttls_required_but_not_offered() {
    let servers = real::servers();
    let settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::StartTls);
    let (report, _) = real::send_to_user(&servers, settings, "notls").await;
    assert!(matches!(
        report.session_error,
        Some(SmtpError::StartTlsNotOffered { .. })
    ));
    let outcome = report.messages[0].outcome.to_string();
    assert!(outcome.contains("does not offer STARTTLS"), "{outcome}");
    assert!(!report.transcript.to_string().contains("C: MAIL"));
}
