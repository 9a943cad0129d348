//! POP-before-SMTP against Dovecot: a good login then the mail goes; a bad
//! password is a deferred job carrying the POP server's -ERR.
use crate::common;
use common::real;
use vmail_core::TlsMode;
use vmail_smtp::SmtpError;

#[tokio::test]
async fn a_good_pop_login_then_smtp() {
    let servers = real::servers();
    for (port, tls) in [(servers.pop3_port, false), (servers.pop3s_port, true)] {
        let mut settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::None);
        settings.pop = Some(real::pop(
            &servers,
            port,
            tls,
            &servers.user,
            &servers.user.password,
        ));
        let (report, id) = real::send_to_user(&servers, settings, "pop").await;
        real::assert_delivered(&report);
        let transcript = report.transcript.to_string();
        assert!(transcript.contains("C: PASS <redacted>"), "{transcript}");
        common::assert_no_secret(&report, &servers.user.user, &servers.user.password);
        real::assert_arrived(&servers, &id);
    }
}

#[tokio::test]
async fn a_bad_pop_password_defers_with_the_pop_reply() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.smtp_plain_port, TlsMode::None);
    settings.pop = Some(real::pop(
        &servers,
        servers.pop3_port,
        false,
        &servers.user,
        "wrong.password",
    ));
    let (report, _) = real::send_to_user(&servers, settings, "badpop").await;
    let outcome = report.messages[0].outcome.to_string();
    assert!(report.messages[0].outcome.is_deferred(), "{outcome}");
    assert!(
        matches!(
            report.session_error,
            Some(SmtpError::Pop {
                command: "PASS",
                ..
            })
        ),
        "{report:?}"
    );
    assert!(outcome.contains("-ERR"), "{outcome}");
    assert!(!report.transcript.to_string().contains("EHLO"));
    common::assert_no_secret(&report, &servers.user.user, "wrong.password");
}
