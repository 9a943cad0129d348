//! The port that offers AUTH without TLS: refused unless
//! allow-plaintext-auth=yes; allowed, auto picks CRAM-MD5 first.
use crate::common;
use common::real;
use vmail_core::{AuthType, TlsMode};
use vmail_smtp::{Mechanism, SmtpError};

#[tokio::test]
async fn auth_in_clear_needs_the_key_and_prefers_cram_md5() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.plainauth_port, TlsMode::None);
    real::login(&mut settings, AuthType::Auto, &servers.user);
    let (report, _) = real::send_to_user(&servers, settings.clone(), "clear").await;
    assert!(matches!(
        report.session_error,
        Some(SmtpError::PlaintextAuthRefused)
    ));
    let advice = common::advice(&report);
    assert!(advice.contains("allow-plaintext-auth"), "{advice}");

    settings.allow_plaintext_auth = true;
    let (report, id) = real::send_to_user(&servers, settings, "cram").await;
    real::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::CramMd5));
    common::assert_no_secret(&report, &servers.user.user, &servers.user.password);
    real::assert_arrived(&servers, &id);
}
