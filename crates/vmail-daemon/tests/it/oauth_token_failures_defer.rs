//! When no good token can be had the jobs wait, and the logs say why and
//! which key to change: a revoked client (`invalid_client`: the job log and
//! the daemon log name oauth-client-id and oauth-client-secret); a token
//! endpoint that is down (deferred, then delivered when it answers again);
//! Dovecot refusing a token the client trusts (the 334 JSON decoded into
//! the job log, one forced refresh, one more AUTH, then deferred).
use crate::common::daemon::{Daemon, wait_for};
use crate::common::real;
use crate::oauth_support::{Case, token_requests};
use vmail_testkit::oauth::{Fault, Grant, TokenServiceControl};

/// Retries a second apart (`retry = "1s"`), so a test sees several
/// attempts quickly, or an hour apart, so it sees exactly one.
fn client_credentials(tag: &str, retry: &str) -> Case {
    let case = Case::new(tag, true, |spec| {
        spec.with_grants(&[Grant::ClientCredentials])
    });
    case.write_config(
        "xoauth2",
        "client-credentials",
        &format!("retry-min = {retry}\nretry-max = 2h\n"),
    );
    case
}

/// The log of the one job in `queue/`, once `done` holds for it.
fn queued_log_when(
    case: &Case,
    daemon: &Daemon,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let spool = case.spool();
    wait_for(
        what,
        || {
            real::jobs_in(&spool, "queue")
                .first()
                .is_some_and(|id| done(&real::job_log(&spool, id)))
        },
        || format!("{}\n{}", daemon.log(), case.job_logs("queue")),
    );
    case.job_logs("queue")
}

#[test]
fn a_revoked_client_defers_and_the_logs_name_the_keys() {
    let case = client_credentials("revoked", "1s");
    case.service.revoke_client(&case.client_id).unwrap();
    let daemon = Daemon::start(case.path());
    let id = case.drop_message("revoked");
    let log = queued_log_when(&case, &daemon, "a deferred attempt", |log| {
        log.contains("no OAuth2 token")
    });
    assert!(log.contains("invalid_client"), "{log}");
    assert!(
        log.contains("oauth-client-id") && log.contains("oauth-client-secret"),
        "the job log does not name the keys:\n{log}"
    );
    assert!(!log.contains(" C: AUTH"), "a login without a token:\n{log}");
    let daemon_log = daemon.log();
    assert!(
        daemon_log.contains("no OAuth2 token, jobs are deferred")
            && daemon_log.contains("oauth-client-secret"),
        "{daemon_log}"
    );
    assert!(case.servers.find_message(&id).is_empty());
    assert_eq!(daemon.stop().code(), Some(0));
    assert_eq!(real::jobs_in(&case.spool(), "queue").len(), 1);
    assert!(real::jobs_in(&case.spool(), "failed").is_empty());
    case.assert_no_secret_written(&[]);
}

#[test]
fn a_token_endpoint_that_is_down_defers_then_delivers() {
    let case = client_credentials("down", "1s");
    // The endpoint drops the next two requests without an answer, as a
    // crashed server would, then answers again.
    case.service
        .set_fault(&case.client_id, &Fault::drop_connection().times(2))
        .unwrap();
    let daemon = Daemon::start(case.path());
    let id = case.drop_message("down");
    queued_log_when(&case, &daemon, "a deferred attempt", |log| {
        log.contains("no OAuth2 token")
    });
    case.arrived(&id, &daemon);
    case.wait_sent(1, &daemon);
    let log = case.job_logs("sent");
    assert!(log.contains("no OAuth2 token"), "{log}");
    assert!(log.contains("status: delivered"), "{log}");
    daemon.wait_for_log("OAuth2 tokens are obtained again");
    assert_eq!(daemon.stop().code(), Some(0));
    assert_eq!(token_requests(&case), 3, "two dropped, one answered");
    case.assert_no_secret_written(&[]);
}

#[test]
fn dovecot_rejecting_the_token_means_one_refresh_then_deferred() {
    let case = client_credentials("rejected", "1h");
    case.service
        .deny_introspection(&case.client_id, true)
        .unwrap();
    let daemon = Daemon::start(case.path());
    let id = case.drop_message("rejected");
    let log = queued_log_when(&case, &daemon, "a refused login", |log| {
        log.contains("rejected the OAuth2 token")
    });
    // The 334 challenge decoded (Dovecot's JSON: status, schemes, scope).
    assert!(
        log.contains("\"status\"") || log.contains("status"),
        "{log}"
    );
    assert!(
        log.contains("fetching a new one and trying once more"),
        "no forced refresh in\n{log}"
    );
    assert_eq!(
        log.matches(" C: AUTH XOAUTH2 <redacted>").count(),
        2,
        "exactly two AUTH in the first attempt:\n{log}"
    );
    assert!(log.contains("a freshly fetched one too"), "{log}");
    assert!(log.contains("oauth-user"), "{log}");
    assert!(case.servers.find_message(&id).is_empty());
    assert_eq!(daemon.stop().code(), Some(0));
    // One attempt (the next is an hour away): the first token and one
    // forced refresh, never a loop.
    assert_eq!(token_requests(&case), 2);
    case.assert_no_secret_written(&[]);
}
