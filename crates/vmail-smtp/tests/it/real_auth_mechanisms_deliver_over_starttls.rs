//! PLAIN, LOGIN and CRAM-MD5 each log in to the real Postfix (Dovecot SASL)
//! after STARTTLS and deliver; what arrives in the Maildir is what was sent;
//! no form of the password is shown anywhere.
use crate::common;
use common::real;
use vmail_core::{AuthType, TlsMode};
use vmail_smtp::Mechanism;
use vmail_testkit::servers::TestUser;

async fn deliver_with(
    auth_type: AuthType,
    mechanism: Mechanism,
    pick: fn(&real::Servers) -> TestUser,
) {
    let servers = real::servers();
    let user = pick(&servers);
    let mut settings = real::settings(&servers, servers.submission_port, TlsMode::StartTls);
    real::login(&mut settings, auth_type, &user);
    let (report, id) = real::send_to_user(&servers, settings, mechanism.name()).await;
    real::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(mechanism));
    let tls = report.tls.clone().unwrap_or_else(|| panic!("no TLS info"));
    let peer = tls.peer.unwrap_or_else(|| panic!("no peer certificate"));
    assert_eq!(peer.verification, Ok(()));
    real::assert_arrived(&servers, &id);
    let transcript = report.transcript.to_string();
    assert!(transcript.contains("* TLS established"), "{transcript}");
    common::assert_no_secret(&report, &user.user, &user.password);
}

#[tokio::test]
async fn plain_delivers() {
    deliver_with(AuthType::Plain, Mechanism::Plain, |s| s.user.clone()).await;
}

#[tokio::test]
async fn login_delivers() {
    deliver_with(AuthType::Login, Mechanism::Login, |s| s.colon_user.clone()).await;
}

#[tokio::test]
async fn cram_md5_delivers() {
    deliver_with(AuthType::CramMd5, Mechanism::CramMd5, |s| {
        s.special_user.clone()
    })
    .await;
}

#[tokio::test]
async fn auto_picks_plain_over_tls() {
    deliver_with(AuthType::Auto, Mechanism::Plain, |s| s.user.clone()).await;
}
