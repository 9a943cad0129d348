//! `vfxadmin check` and AUTH, against the fault server: the mechanism the
//! configuration names is not offered, no AUTH at all, a 535, AUTH offered
//! only in clear. The password never shows, in any form.
use crate::check_support;

use check_support::*;
use vmail_testkit::fault::{FaultServer, Script};

const PASSWORD: &str = "not.my.real.password";

fn login(auth_type: &str) -> String {
    format!(
        "tls = none\nallow-plaintext-auth = yes\nauth-type = {auth_type}\n\
         auth-rsp = jms1@jms1.net:{PASSWORD}"
    )
}

/// Every AUTH line the client sent (its base64 forms of the secret).
fn auth_payloads(server: &FaultServer) -> Vec<String> {
    let commands = server.commands();
    let start = commands.iter().position(|c| c.starts_with("AUTH"));
    let Some(start) = start else {
        return Vec::new();
    };
    let mut payloads: Vec<String> = commands[start..]
        .iter()
        .take_while(|c| !c.starts_with("MAIL") && !c.starts_with("QUIT"))
        .map(|c| c.trim_start_matches("AUTH PLAIN ").to_string())
        .filter(|c| c.len() > 8)
        .collect();
    payloads.retain(|p| !p.starts_with("AUTH"));
    payloads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_cram_md5_offered_names_the_auth_type_to_set() {
    let server = FaultServer::start(Script::new().extensions(&["PIPELINING", "AUTH CRAM-MD5"]))
        .await
        .unwrap();
    let run = CheckEnv::fault(server.port(), &login("plain"))
        .check_async(&[])
        .await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] the server offers only CRAM-MD5; set auth-type=cram-md5",
    );
    assert!(!server.received("AUTH"));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_offered_warns_that_mail_goes_unauthenticated() {
    let server = FaultServer::start(Script::new()).await.unwrap();
    let run = CheckEnv::fault(server.port(), &login("auto"))
        .check_async(&[])
        .await;
    assert_exit(&run, 0);
    assert_verdict(
        &run,
        "[warn] the server offers no AUTH: mail will be sent without logging in (the server \
         decides at RCPT TO whether it relays for this host); [VMAIL] auth-rsp is not used",
    );
    assert_verdict(
        &run,
        "[ ok ] EHLO accepted; the server offers: PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES",
    );
    assert!(run.stdout.ends_with("Result: sending would work.\n"));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_535_points_at_auth_rsp() {
    let server = FaultServer::start(
        Script::new()
            .extensions(&["AUTH PLAIN LOGIN"])
            .auth_reply("535 5.7.8 Error: authentication failed"),
    )
    .await
    .unwrap();
    let run = CheckEnv::fault(server.port(), &login("login"))
        .check_async(&[])
        .await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] 535 5.7.8: the server rejected the user or password in [VMAIL] auth-rsp; enter \
         it again with `vfxadmin config -a -p -e VMAIL auth-rsp`",
    );
    assert!(run.stdout.contains("C: <redacted>"), "{}", run.stdout);
    assert_not_shown(&run, PASSWORD);
    let payloads = auth_payloads(&server);
    assert_eq!(payloads.len(), 2, "{:?}", server.commands());
    for payload in payloads {
        assert_not_shown(&run, &payload);
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_login_in_clear_where_allowed() {
    let server = FaultServer::start(Script::new().extensions(&["AUTH PLAIN LOGIN CRAM-MD5"]))
        .await
        .unwrap();
    let run = CheckEnv::fault(server.port(), &login("auto"))
        .check_async(&[])
        .await;
    assert_exit(&run, 0);
    assert_verdict(
        &run,
        "[ ok ] AUTH CRAM-MD5: login accepted (235 2.7.0 Authentication successful)",
    );
    assert_not_shown(&run, PASSWORD);
    for payload in auth_payloads(&server) {
        assert_not_shown(&run, &payload);
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_offered_only_in_clear_names_allow_plaintext_auth() {
    let server = FaultServer::start(Script::new().extensions(&["AUTH PLAIN LOGIN"]))
        .await
        .unwrap();
    let run = CheckEnv::fault(
        server.port(),
        &format!("tls = opportunistic\nauth-type = auto\nauth-rsp = jms1@jms1.net:{PASSWORD}"),
    )
    .check_async(&[])
    .await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] the server offers AUTH on an unencrypted connection, and vmail does not send the \
         password in clear: use tls=starttls, or tls=implicit on the server's TLS port, or set \
         [VMAIL] allow-plaintext-auth=yes on a trusted network",
    );
    assert!(!server.received("AUTH"));
    server.stop();
}
