//! `vfxadmin check` against a server that refuses in its greeting (421,
//! 554) or never says hello at all.
use crate::check_support;

use check_support::*;
use std::time::{Duration, Instant};
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_421_greeting_says_try_later() {
    let server = FaultServer::start(
        Script::new().greeting("421 4.3.2 Service not available, closing channel"),
    )
    .await
    .unwrap();
    let run = CheckEnv::fault(server.port(), "").check_async(&[]).await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] 421 4.3.2: the server does not accept connections now; try again later, and if \
         it lasts, ask the mail server's administrator (it said: Service not available, closing \
         channel)",
    );
    assert!(run.stdout.contains("S: 421 4.3.2 Service not available"));
    assert!(!server.received("EHLO"));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_554_greeting_says_this_host_is_refused() {
    let server = FaultServer::start(Script::new().greeting("554 5.7.1 No SMTP service here"))
        .await
        .unwrap();
    let run = CheckEnv::fault(server.port(), "").check_async(&[]).await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] 554 5.7.1: the server refuses connections from this host; ask the mail server's \
         administrator to allow this host's address (it said: No SMTP service here)",
    );
    assert!(
        run.stdout
            .ends_with("Result: sending would NOT work; fix what the [FAIL] lines name.\n")
    );
    server.stop();
}

/// No banner: the check waits `timeout`, then tries TLS from the first byte
/// (a port 465 mistaken for plain SMTP looks the same), and says neither
/// worked. Two waits of 1 s, never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_banner_times_out_and_is_probed_for_implicit_tls() {
    let server = FaultServer::start(Script::new().silent_banner())
        .await
        .unwrap();
    let started = Instant::now();
    let run = CheckEnv::fault(server.port(), "").check_async(&[]).await;
    let elapsed = started.elapsed();
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        &format!(
            "[FAIL] no greeting from 127.0.0.1:{} within 1 s (nor over TLS): the server is \
             overloaded or is not a mail server; if it is only slow, raise [VMAIL] timeout",
            server.port()
        ),
    );
    assert!(
        run.stdout.contains("Probe with tls=implicit"),
        "{}",
        run.stdout
    );
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(server.connections(), 2);
    server.stop();
}
