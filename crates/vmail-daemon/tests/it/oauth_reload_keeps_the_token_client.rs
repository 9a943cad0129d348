//! SIGHUP with the `oauth-*` keys unchanged keeps the running token client
//! (its token in memory, its single flight); a change of them builds a new
//! one, whose token is fetched for the new settings.
use crate::common::daemon::Daemon;
use crate::oauth_support::{Case, token_requests};
use vmail_testkit::oauth::Grant;

const BUILT: &str = "OAuth2: generic tokens (client-credentials)";

#[test]
fn a_reload_builds_a_new_token_client_only_when_oauth_settings_change() {
    let case = Case::new("reload", true, |spec| {
        spec.with_grants(&[Grant::ClientCredentials])
    });
    case.write_config("xoauth2", "client-credentials", "");
    let daemon = Daemon::start(case.path());
    let first = case.drop_message("reload-1");
    case.arrived(&first, &daemon);
    assert_eq!(daemon.log().matches(BUILT).count(), 1);

    // Same settings, another line changed.
    case.write_config("xoauth2", "client-credentials", "retry-min = 2m\n");
    daemon.signal("HUP");
    daemon.wait_for_log("configuration reloaded");
    let second = case.drop_message("reload-2");
    case.arrived(&second, &daemon);
    assert_eq!(
        daemon.log().matches(BUILT).count(),
        1,
        "a new client for unchanged settings:\n{}",
        daemon.log()
    );
    assert_eq!(token_requests(&case), 1);

    // Another scope: a new client, and a token for it.
    case.write_config("xoauth2", "client-credentials", "oauth-scope = mail\n");
    daemon.signal("HUP");
    let log_has_two = || {
        let log = daemon.log();
        log.matches("configuration reloaded").count() == 2 && log.matches(BUILT).count() == 2
    };
    crate::common::daemon::wait_for("a new token client", log_has_two, || daemon.log());
    let third = case.drop_message("reload-3");
    case.arrived(&third, &daemon);
    assert_eq!(daemon.stop().code(), Some(0));
    assert_eq!(token_requests(&case), 2, "one token per settings");
    case.assert_no_secret_written(&[]);
}
