//! The plain port offers no AUTH: with auth-type set, the mail goes without
//! a login and the transcript warns.
use crate::common;
use common::real;
use vmail_core::{AuthType, TlsMode};

#[tokio::test]
async fn no_auth_offered_delivers_unauthenticated() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::None);
    real::login(&mut settings, AuthType::Plain, &servers.user);
    let (report, id) = real::send_to_user(&servers, settings, "noauth").await;
    real::assert_delivered(&report);
    assert!(report.authenticated.is_none());
    assert!(
        report
            .transcript
            .notes()
            .any(|n| n.contains("offers no AUTH"))
    );
    real::assert_arrived(&servers, &id);
}
