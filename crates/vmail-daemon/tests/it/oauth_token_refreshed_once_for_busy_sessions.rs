//! A token that reaches its refresh point between two batches is fetched
//! anew once, however many sessions want it: with `max-connections = 4`
//! and 20 jobs dropped at once, four sessions log in with the one new
//! token (the token service counts two requests in all).
use crate::common::daemon::{Daemon, wait_for};
use crate::common::real;
use crate::oauth_support::{Case, token_requests};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vmail_testkit::oauth::{Grant, TokenServiceControl};

/// Short enough that the test waits for it, long enough for a batch.
const LIFETIME: Duration = Duration::from_secs(6);

#[test]
fn expiry_between_two_batches_is_one_token_request_for_four_sessions() {
    let case = Case::new("busy", true, |spec| {
        spec.with_grants(&[Grant::ClientCredentials])
            .with_token_lifetime(LIFETIME)
    });
    case.write_config("xoauth2", "client-credentials", "max-connections = 4\n");
    let daemon = Daemon::start(case.path());
    let first = case.drop_message("busy-first");
    case.arrived(&first, &daemon);
    case.wait_sent(1, &daemon);
    assert_eq!(token_requests(&case), 1);

    // The token is refreshed at half its lifetime (REFRESH_MARGIN is
    // longer than these tokens live): wait until that point has passed.
    let status = vmail_oauth::status(&case.spool().join("oauth")).unwrap();
    let last = status.last_refresh.expect("a refresh recorded");
    assert!(last.is_ok(), "{last:?}");
    let refresh_at = UNIX_EPOCH + Duration::from_secs(last.at + LIFETIME.as_secs() / 2 + 1);
    wait_for(
        "the token's refresh point",
        || SystemTime::now() >= refresh_at,
        || format!("{last:?}"),
    );

    let ids: Vec<String> = (0..20)
        .map(|n| real::message_id(&format!("busy-{n}")))
        .collect();
    let inbox = case.spool().join("in");
    for (n, id) in ids.iter().enumerate() {
        let text = real::eml("fax@example.test", &[&case.servers.user.user], id, "x\n");
        std::fs::write(inbox.join(format!(".b{n}.eml")), text).unwrap();
    }
    for n in 0..ids.len() {
        std::fs::rename(
            inbox.join(format!(".b{n}.eml")),
            inbox.join(format!("b{n}.eml")),
        )
        .unwrap();
    }
    for id in &ids {
        case.arrived(id, &daemon);
    }
    case.wait_sent(21, &daemon);
    let log = daemon.log();
    assert!(
        log.contains("session 4 takes"),
        "the second batch did not keep four sessions busy:\n{log}"
    );
    assert_eq!(daemon.stop().code(), Some(0));
    let counters = case.service.counters(&case.client_id).unwrap();
    assert_eq!(
        counters.total_token_requests(),
        2,
        "one request per batch: {counters:?}"
    );
    case.assert_no_secret_written(&[]);
}
