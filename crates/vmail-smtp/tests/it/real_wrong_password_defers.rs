//! A wrong password: Postfix answers 535, the job is deferred pointing at
//! auth-rsp, and no MAIL FROM follows.
use crate::common;
use common::real;
use vmail_core::{AuthType, TlsMode};
use vmail_testkit::servers::TestUser;

#[tokio::test]
async fn a_wrong_password_is_deferred_with_the_535() {
    let servers = real::servers();
    let wrong = TestUser {
        user: servers.user.user.clone(),
        password: "wrong.password".to_string(),
    };
    for auth_type in [AuthType::Plain, AuthType::Login, AuthType::CramMd5] {
        let mut settings = real::settings(&servers, servers.submission_port, TlsMode::StartTls);
        real::login(&mut settings, auth_type, &wrong);
        let (report, _) = real::send_to_user(&servers, settings, "wrong").await;
        let outcome = &report.messages[0].outcome;
        assert!(outcome.is_deferred(), "{outcome}");
        common::assert_login_refused(&report);
        assert!(
            !report.transcript.to_string().contains("C: MAIL"),
            "{}",
            report.transcript
        );
        common::assert_no_secret(&report, &wrong.user, &wrong.password);
    }
}
