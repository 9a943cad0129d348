//! `vfxadmin check` where the port or its certificate is not what the
//! settings expect, read as an administrator reads the verdicts:
//!
//! - a port that is not SMTP (an SSH banner): what it said, not the
//!   parser's `SyntaxError { syntax: "Invalid response code" }`;
//! - a self-signed certificate: called that, with pinning through
//!   `ca-file` as the fix (and the pinned certificate then verifies);
//! - a certificate for another name: the names to use in `mail-server`;
//! - `tls = starttls` on a port that speaks TLS first, with the default
//!   60 s timeout: the verdict within seconds, not after a minute.
//!
//! The TLS ports are the fault server behind its TLS front, with
//! certificates made by rcgen in the test.
use crate::check_support;

use check_support::*;
use std::time::{Duration, Instant};
use vmail_testkit::fault::{FaultServer, Script, TestCertificate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_is_not_smtp_shows_what_it_said() {
    let server = FaultServer::start(Script::new().greeting("SSH-2.0-OpenSSH_9.6p1 Debian-4"))
        .await
        .unwrap();
    let run = CheckEnv::fault(server.port(), "tls = none")
        .check_async(&[])
        .await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        &format!(
            "[FAIL] 127.0.0.1:{} is not an SMTP server: it said \"SSH-2.0-OpenSSH_9.6p1 \
             Debian-4\" where a mail server greets with 220; check [VMAIL] mail-server and \
             mail-port",
            server.port()
        ),
    );
    assert!(!run.stdout.contains("SyntaxError"), "{}", run.stdout);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_called_that_and_pinning_it_works() {
    let cert = TestCertificate::self_signed(&["127.0.0.1"]).unwrap();
    let server = FaultServer::start_implicit_tls(Script::new(), &cert)
        .await
        .unwrap();
    let env = CheckEnv::fault(server.port(), "tls = implicit");
    let run = env.check_async(&[]).await;
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] the TLS certificate");
    assert!(
        verdict.starts_with(
            "[FAIL] the TLS certificate of 127.0.0.1 is self-signed (subject CN=127.0.0.1, \
             valid until "
        ),
        "{verdict}"
    );
    // The certificate section shows the fingerprint the advice names.
    let fingerprint = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("  fingerprint:  "))
        .unwrap_or_else(|| panic!("no fingerprint in {}", run.stdout))
        .to_string();
    assert!(
        fingerprint.starts_with("sha256:") && fingerprint.len() == 7 + 64,
        "{fingerprint}"
    );
    assert!(
        verdict.ends_with(&format!(
            "): no CA vouches for it. If it is the server's own, pin it: set [VMAIL] \
             tls-fingerprint = {fingerprint} (or save it as PEM with `openssl s_client -connect \
             127.0.0.1:{} -showcerts` and set ca-file to that file); better, give the server a \
             certificate from a CA; tls-verify=no turns the check off (not recommended)",
            server.port()
        )),
        "{verdict}"
    );
    assert!(
        run.stdout.contains(
            "\n  verification: NOT verified (self-signed); fetched without verifying it, to show it\n"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("BadSignature"), "{}", run.stdout);

    // The fix it names first: the fingerprint as tls-fingerprint.
    let run = CheckEnv::fault(
        server.port(),
        &format!("tls = implicit\ntls-fingerprint = {fingerprint}"),
    )
    .check_async(&[])
    .await;
    assert!(
        verdicts(&run).iter().any(|v| v.starts_with(&format!(
            "[ ok ] certificate pinned: its fingerprint {fingerprint} is in tls-fingerprint, \
             which replaces the CA check: subject CN=127.0.0.1"
        ))),
        "{}",
        run.stdout
    );
    assert_exit(&run, 0);

    // Another pin: refused, and the fingerprint seen is shown.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let run = CheckEnv::fault(
        server.port(),
        &format!("tls = implicit\ntls-fingerprint = {wrong}"),
    )
    .check_async(&[])
    .await;
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] the TLS certificate");
    assert!(
        verdict.starts_with(&format!(
            "[FAIL] the TLS certificate of 127.0.0.1 has the fingerprint {fingerprint}, which \
             is not in [VMAIL] tls-fingerprint (subject CN=127.0.0.1"
        )),
        "{verdict}"
    );

    // The fix it names: the certificate itself as ca-file.
    let pinned = tempfile::tempdir().unwrap();
    let pem = pinned.path().join("server.pem");
    std::fs::write(&pem, &cert.trust_pem).unwrap();
    let run = CheckEnv::fault(
        server.port(),
        &format!("tls = implicit\nca-file = {}", pem.display()),
    )
    .check_async(&[])
    .await;
    assert!(
        verdicts(&run)
            .iter()
            .any(|v| v.starts_with("[ ok ] certificate verified: subject CN=127.0.0.1")),
        "{}",
        run.stdout
    );
    assert_exit(&run, 0);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_says_which_name_to_use() {
    let cert = TestCertificate::from_test_ca(&["mail.example.test", "smtp.example.test"]).unwrap();
    let server = FaultServer::start_implicit_tls(Script::new(), &cert)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert.trust_pem).unwrap();
    let run = CheckEnv::fault(
        server.port(),
        &format!("tls = implicit\nca-file = {}", ca.display()),
    )
    .check_async(&[])
    .await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] the TLS certificate of 127.0.0.1 is for mail.example.test, smtp.example.test, \
         not for 127.0.0.1: set [VMAIL] mail-server to one of mail.example.test, \
         smtp.example.test (subject CN=mail.example.test, issuer CN=vmail fault test CA)",
    );
    assert!(
        run.stdout.contains(
            "\n  verification: NOT verified (issued for other names: mail.example.test, \
             smtp.example.test); fetched without verifying it, to show it\n"
        ),
        "{}",
        run.stdout
    );
    server.stop();
}

/// With the default `timeout` (60 s) a TLS-first port used to keep the
/// check silent for a minute; now nothing in 5 s asks a TLS probe, whose
/// greeting is the verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_on_a_tls_first_port_is_told_within_seconds() {
    let cert = TestCertificate::self_signed(&["127.0.0.1"]).unwrap();
    let server = FaultServer::start_implicit_tls(Script::new(), &cert)
        .await
        .unwrap();
    let env = CheckEnv::new(&format!(
        "mail-server = 127.0.0.1\nmail-port = {}\ntls = starttls\nhelo-name = client.test",
        server.port()
    ));
    let started = Instant::now();
    let run = env.check_async(&[]).await;
    let elapsed = started.elapsed();
    assert_exit(&run, 1);
    assert_eq!(
        verdicts(&run),
        vec![format!(
            "[FAIL] no greeting in plain text from 127.0.0.1:{} within 5 s: this port speaks \
             TLS first: set tls = implicit (over TLS from the first byte it greeted \"220 \
             fault.test ESMTP\")",
            server.port()
        )]
    );
    assert!(
        run.stdout.contains("Probe with tls=implicit"),
        "{}",
        run.stdout
    );
    assert!(elapsed >= Duration::from_secs(5), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    server.stop();
}
