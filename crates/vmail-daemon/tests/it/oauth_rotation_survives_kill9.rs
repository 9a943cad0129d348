//! A rotated refresh token and `kill -9`: the token service rotates the
//! refresh token as soon as the request arrives but holds its answer back
//! (`Fault::delay`), and the test kills vmaild while it waits, so the kill
//! lands after the rotation and before vmail could save the new token.
//! vmail still holds the refresh token it had (nothing half-written), the
//! service accepts it (it keeps a used token until its successor is used,
//! as Okta and Auth0 do, and as Entra ID does not revoke at once), and the
//! restarted vmaild refreshes with it and delivers.
use crate::common::daemon::{Daemon, wait_for};
use crate::oauth_support::Case;
use std::time::Duration;
use vmail_core::Secret;
use vmail_testkit::oauth::{Fault, Grant, Rotation, TokenServiceControl};

#[test]
fn kill9_between_rotation_and_save_keeps_a_refresh_token_that_works() {
    let mut case = Case::new("rotation", false, |spec| {
        spec.with_grants(&[Grant::RefreshToken])
            .with_rotation(Rotation::KeepOldUntilNewUsed)
    });
    case.write_config("xoauth2", "refresh-token", "");
    // What `vfxadmin oauth login` would have stored.
    let refresh = case.service.issue_refresh_token(&case.client_id).unwrap();
    let config = vmail_config::load(&case.path().join("vsisrv.ini"))
        .unwrap()
        .config;
    let oauth = config.smtp().unwrap().oauth.clone().unwrap();
    let (key, _) = vmail_config::secrets::load_or_create_key(&config.key_file).unwrap();
    let cache = case.spool().join("oauth");
    vmail_oauth::store_refresh_token(&oauth, &cache, &key, &Secret::new(refresh.as_str())).unwrap();
    case.more_secrets.push(refresh.clone());

    case.service
        .set_fault(
            &case.client_id,
            &Fault::delay(Duration::from_secs(30)).times(1),
        )
        .unwrap();
    let daemon = Daemon::start(case.path());
    let id = case.drop_message("rotation");
    // The request has arrived and the token is rotated; the answer waits.
    wait_for(
        "the refresh request at the token service",
        || {
            case.service
                .counters(&case.client_id)
                .unwrap()
                .token_requests(Grant::RefreshToken)
                == 1
        },
        || daemon.log(),
    );
    let rotated = case.service.counters(&case.client_id).unwrap();
    assert_eq!(rotated.tokens_issued, 1, "rotated before the answer");
    daemon.kill9();
    assert!(case.servers.find_message(&id).is_empty());

    let daemon = Daemon::start(case.path());
    case.arrived(&id, &daemon);
    case.wait_sent(1, &daemon);
    assert_eq!(daemon.stop().code(), Some(0));
    let counters = case.service.counters(&case.client_id).unwrap();
    assert_eq!(
        (
            counters.token_requests(Grant::RefreshToken),
            counters.token_errors
        ),
        (2, 0),
        "the kept refresh token was accepted: {counters:?}"
    );
    let logs = case.job_logs("sent");
    assert!(!logs.contains("invalid_grant"), "{logs}");
    case.assert_no_secret_written(&[]);
}
