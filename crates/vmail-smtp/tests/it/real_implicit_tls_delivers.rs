//! tls=implicit on the SMTPS port: TLS before the greeting, certificate
//! details in the report, delivery. Without the CA the certificate is
//! refused (deferred); with tls-verify=no it goes, with a warning.
use crate::common;
use common::real;
use vmail_core::{AuthType, TlsMode};
use vmail_smtp::{CertificateCheck, SmtpError};

#[tokio::test]
async fn implicit_tls_delivers_and_reports_the_certificate() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.smtps_port, TlsMode::Implicit);
    real::login(&mut settings, AuthType::Auto, &servers.user);
    let (report, id) = real::send_to_user(&servers, settings, "implicit").await;
    real::assert_delivered(&report);
    let peer = report.tls.as_ref().and_then(|t| t.peer.clone());
    let peer = peer.unwrap_or_else(|| panic!("no certificate in {report:?}"));
    assert_eq!(peer.verification, Ok(()));
    assert_eq!(peer.check, CertificateCheck::Chain);
    assert!(!peer.subject.is_empty() && !peer.issuer.is_empty() && !peer.not_after.is_empty());
    real::assert_arrived(&servers, &id);
}

#[tokio::test]
async fn an_unknown_ca_is_refused_unless_verification_is_off() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.smtps_port, TlsMode::Implicit);
    settings.ca_file = None;
    let (report, _) = real::send_to_user(&servers, settings.clone(), "ca").await;
    assert!(
        matches!(report.session_error, Some(SmtpError::Tls { .. })),
        "{report:?}"
    );
    assert!(report.messages[0].outcome.is_deferred());

    settings.tls_verify = false;
    real::login(&mut settings, AuthType::Auto, &servers.user);
    let (report, _) = real::send_to_user(&servers, settings, "noverify").await;
    real::assert_delivered(&report);
    let warned = report
        .transcript
        .notes()
        .any(|n| n.contains("tls-verify=no"));
    assert!(warned, "{}", report.transcript);
    let peer = report
        .tls
        .and_then(|t| t.peer)
        .unwrap_or_else(|| panic!("no certificate"));
    assert!(
        peer.verification.is_err() && peer.check == CertificateCheck::Off,
        "{peer:?}"
    );
}
