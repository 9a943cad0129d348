//! Issue 14 against the private Postfix: the clientcert listener relays
//! only for a client certificate of the test CA (`tls-cert-file`,
//! `tls-key-file`); the selfsigned listener (TLS 1.2 at most) is reached by
//! pinning its certificate (`tls-fingerprint`), a wrong pin is a TLS failure
//! that names the fingerprint seen, and `tls-min-version = 1.3` gets TLS 1.3
//! from Postfix and refuses the 1.2-only listener.
use crate::common;
use common::real;
use std::os::unix::fs::PermissionsExt;
use vmail_core::{ClientCertificate, Fingerprint, TlsMode, TlsVersion};
use vmail_smtp::{CertificateCheck, SessionReport, Submitter};

const WRONG_PIN: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn pin(text: &str) -> Fingerprint {
    Fingerprint::parse(text).unwrap_or_else(|| panic!("not a fingerprint: {text}"))
}

fn session_error(report: &SessionReport) -> String {
    report
        .session_error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| panic!("no session error:\n{}", report.transcript))
}

#[tokio::test]
async fn the_client_certificate_listener_relays_with_the_certificate_and_refuses_without() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.clientcert_port, TlsMode::StartTls);
    let (report, _) = real::send_to_user(&servers, settings.clone(), "nocert").await;
    let message = &report.messages[0];
    assert!(
        message.outcome.is_failed(),
        "{}\n{}",
        message.outcome,
        report.transcript
    );
    assert_eq!(
        message.recipients[0].outcome.reply().map(|r| r.code),
        Some(554),
        "{}",
        report.transcript
    );

    settings.client_certificate = Some(ClientCertificate {
        cert_file: servers.client_cert.clone(),
        key_file: servers.client_key.clone(),
    });
    let (report, id) = real::send_to_user(&servers, settings, "clientcert").await;
    real::assert_delivered(&report);
    real::assert_arrived(&servers, &id);
}

#[tokio::test]
async fn a_key_file_others_may_read_is_refused_before_connecting() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.key");
    std::fs::copy(&servers.client_key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut settings = real::settings(&servers, servers.clientcert_port, TlsMode::StartTls);
    settings.client_certificate = Some(ClientCertificate {
        cert_file: servers.client_cert.clone(),
        key_file: key.clone(),
    });
    let (report, _) = real::send_to_user(&servers, settings, "sharedkey").await;
    assert_eq!(
        session_error(&report),
        format!(
            "TLS setup: tls-key-file {0} may be read or written by group or others (mode 0640), \
             so vmail refuses it (run `chmod 600 {0}`)",
            key.display()
        )
    );
    common::assert_deferred(&report);
}

#[tokio::test]
async fn a_pinned_self_signed_certificate_is_accepted() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.selfsigned_port, TlsMode::StartTls);
    // Without the pin the self-signed certificate is refused (the CA check).
    let (report, _) = real::send_to_user(&servers, settings.clone(), "selfsigned").await;
    common::assert_deferred(&report);

    settings.tls_fingerprints = vec![pin(WRONG_PIN), pin(&servers.selfsigned_fingerprint)];
    let (report, id) = real::send_to_user(&servers, settings, "pinned").await;
    real::assert_delivered(&report);
    let tls = report.tls.clone().unwrap_or_else(|| panic!("no TLS"));
    assert_eq!(
        tls.protocol, "TLSv1_2",
        "the listener offers TLS 1.2 at most"
    );
    let peer = tls.peer.unwrap_or_else(|| panic!("no certificate"));
    assert_eq!(peer.check, CertificateCheck::Pin { matched: true });
    assert!(peer.verification.is_err() && peer.self_signed, "{peer:?}");
    assert_eq!(peer.fingerprint.to_string(), servers.selfsigned_fingerprint);
    assert!(
        report
            .transcript
            .notes()
            .any(|n| n.contains("pinned: its fingerprint is in tls-fingerprint")),
        "{}",
        report.transcript
    );
    real::assert_arrived(&servers, &id);
}

#[tokio::test]
async fn a_wrong_pin_is_a_tls_failure_that_shows_the_fingerprint_seen() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.selfsigned_port, TlsMode::StartTls);
    settings.tls_fingerprints = vec![pin(WRONG_PIN)];
    let (report, _) = real::send_to_user(&servers, settings, "wrongpin").await;
    common::assert_deferred(&report);
    let error = session_error(&report);
    assert!(
        error.starts_with(&format!(
            "TLS with {} failed: the server's certificate has the fingerprint {}, which is not \
             in [VMAIL] tls-fingerprint (certificate subject: CN=localhost, issuer: CN=localhost",
            servers.host, servers.selfsigned_fingerprint
        )),
        "{error}"
    );

    // A pin replaces the CA check: a certificate the CA vouches for is
    // refused too when it is not pinned.
    let mut settings = real::settings(&servers, servers.submission_port, TlsMode::StartTls);
    settings.tls_fingerprints = vec![pin(&servers.selfsigned_fingerprint)];
    let (report, _) = real::send_to_user(&servers, settings, "capinned").await;
    common::assert_deferred(&report);
    assert!(
        session_error(&report).contains("which is not in [VMAIL] tls-fingerprint"),
        "{}",
        report.transcript
    );
}

#[tokio::test]
async fn tls_min_version_1_3_gets_tls_1_3_and_refuses_a_server_capped_at_1_2() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::StartTls);
    settings.tls_min_version = TlsVersion::V1_3;
    // The plain listener offers no STARTTLS; the submission one does but
    // needs a login to relay, so the session alone is looked at.
    settings.port = servers.submission_port;
    let session = Submitter::new(settings)
        .connect()
        .await
        .unwrap_or_else(|f| panic!("{}\n{}", f.error, f.transcript));
    let protocol = session.tls().map(|t| t.protocol.clone());
    session.quit().await;
    assert_eq!(protocol.as_deref(), Some("TLSv1_3"));

    let mut settings = real::settings(&servers, servers.selfsigned_port, TlsMode::StartTls);
    settings.tls_fingerprints = vec![pin(&servers.selfsigned_fingerprint)];
    settings.tls_min_version = TlsVersion::V1_3;
    let (report, _) = real::send_to_user(&servers, settings, "tls13").await;
    common::assert_deferred(&report);
    let error = session_error(&report);
    assert!(
        error.starts_with(&format!("TLS with {} failed: ", servers.host)),
        "{error}"
    );
}
