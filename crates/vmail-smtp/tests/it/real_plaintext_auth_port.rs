//! The port that offers AUTH without TLS: refused unless
//! allow-plaintext-auth=yes; allowed, auto picks CRAM-MD5 first.
use crate::common;
use common::real;
use vmail_core::{AuthType, TlsMode};
use vmail_smtp::{Mechanism, SmtpError, Submitter};

#[tokio::test]
async fn auth_in_clear_needs_the_key_and_prefers_cram_md5() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.plainauth_port, TlsMode::None);
    real::login(&mut settings, AuthType::Auto, &servers.user);
    let to = [servers.user.user.as_str()];
    let report = Submitter::new(settings.clone())
        .send(vec![real::message(
            "fax@example.test",
            &to,
            &real::message_id("clear"),
        )])
        .await;
    assert!(matches!(
        report.session_error,
        Some(SmtpError::PlaintextAuthRefused)
    ));
    let advice = report
        .session_error
        .as_ref()
        .and_then(|e| e.advice())
        .map(|a| a.to_string())
        .unwrap_or_default();
    assert!(advice.contains("allow-plaintext-auth"), "{advice}");

    settings.allow_plaintext_auth = true;
    let id = real::message_id("cram");
    let report = Submitter::new(settings)
        .send(vec![real::message("fax@example.test", &to, &id)])
        .await;
    real::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::CramMd5));
    common::assert_no_secret(&report, &servers.user.user, &servers.user.password);
    assert_eq!(real::arrived_body(&servers, &id), real::EXPECTED_BODY);
}
