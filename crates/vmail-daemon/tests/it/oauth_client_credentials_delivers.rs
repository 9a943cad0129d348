//! The real vmaild fetches a token with client credentials from the token
//! service and logs in at the Postfix OAuth listener, whose Dovecot asks
//! the service by introspection: with `auth-type = xoauth2`, with
//! `oauthbearer`, and with `auto`, which picks OAUTHBEARER. One token
//! request serves every job; nothing secret is written.
use crate::common::daemon::Daemon;
use crate::oauth_support::{Case, token_requests};
use vmail_testkit::oauth::{Grant, TokenServiceControl};

fn delivers_with(auth_type: &str, wire_mechanism: &str) {
    let case = Case::new(&format!("cc-{auth_type}"), true, |spec| {
        spec.with_grants(&[Grant::ClientCredentials])
    });
    case.write_config(auth_type, "client-credentials", "");
    let daemon = Daemon::start(case.path());
    let first = case.drop_message(&format!("cc-{auth_type}-1"));
    case.arrived(&first, &daemon);
    let second = case.drop_message(&format!("cc-{auth_type}-2"));
    case.arrived(&second, &daemon);
    case.wait_sent(2, &daemon);
    let logs = case.job_logs("sent");
    assert!(
        logs.contains(&format!(" C: AUTH {wire_mechanism} <redacted>")),
        "no redacted AUTH {wire_mechanism} in\n{logs}"
    );
    assert!(logs.contains(" S: 235 2.7.0"), "{logs}");
    assert_eq!(daemon.stop().code(), Some(0));
    assert_eq!(
        token_requests(&case),
        1,
        "one token for both sessions: {:?}",
        case.service.counters(&case.client_id)
    );
    case.assert_no_secret_written(&[]);
}

#[test]
fn client_credentials_with_xoauth2() {
    delivers_with("xoauth2", "XOAUTH2");
}

#[test]
fn client_credentials_with_oauthbearer() {
    delivers_with("oauthbearer", "OAUTHBEARER");
}

#[test]
fn auto_picks_oauthbearer() {
    delivers_with("auto", "OAUTHBEARER");
}
