//! `vfxadmin check` against a server older than ESMTP: EHLO gets 502, HELO
//! is accepted; a warning, not a failure.
use crate::check_support;

use check_support::*;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehlo_502_then_helo_is_a_warning() {
    let server = FaultServer::start(Script::new().ehlo_refused())
        .await
        .unwrap();
    let run = CheckEnv::fault(server.port(), "tls = none")
        .check_async(&[])
        .await;
    assert_exit(&run, 0);
    assert_eq!(
        verdicts(&run),
        vec![
            "[ ok ] greeting: 220 fault.test ESMTP",
            "[warn] the server refused EHLO (502 5.5.2 Error: command not recognized) and \
             accepted HELO: an old server without ESMTP, so no STARTTLS, no AUTH and no SIZE",
            "[warn] not encrypted (tls=none, and the server offers no STARTTLS): mail crosses \
             the network in clear",
            "[warn] the server offers no AUTH: mail will be sent without logging in (the server \
             decides at RCPT TO whether it relays for this host)",
        ]
    );
    assert!(server.received("HELO client.test"));
    server.stop();
}
