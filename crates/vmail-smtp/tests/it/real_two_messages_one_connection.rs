//! Two messages over one authenticated connection: one login, RSET between,
//! both delivered.
use crate::common;
use common::real;
use vmail_core::{AuthType, TlsMode};
use vmail_smtp::Submitter;

#[tokio::test]
async fn two_messages_one_login() {
    let servers = real::servers();
    let mut settings = real::settings(&servers, servers.submission_port, TlsMode::StartTls);
    real::login(&mut settings, AuthType::Plain, &servers.user);
    let (first, second) = (real::message_id("one"), real::message_id("two"));
    let to = [servers.user.user.as_str()];
    let report = Submitter::new(settings)
        .send(vec![
            real::message("fax@example.test", &to, &first),
            real::message("", &to, &second),
        ])
        .await;
    real::assert_delivered(&report);
    let transcript = report.transcript.to_string();
    assert_eq!(
        transcript.matches("C: AUTH PLAIN").count(),
        1,
        "{transcript}"
    );
    assert_eq!(transcript.matches("C: RSET").count(), 1, "{transcript}");
    assert!(transcript.contains("C: MAIL FROM:<>"), "{transcript}");
    real::assert_arrived(&servers, &first);
    real::assert_arrived(&servers, &second);
}
