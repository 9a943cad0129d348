//! `vfxadmin check` against the private Postfix and Dovecot that `bash
//! tests/run.sh` starts (`VMAIL_TEST_SERVERS`): a good login over STARTTLS,
//! a wrong password, the TLS mode that does not fit the port, a certificate
//! that does not verify, POP-before-SMTP, and a real test message.
use crate::check_support;
use crate::common;

use check_support::*;
use std::time::Duration;
use vmail_testkit::servers::TestServers;

/// `[VMAIL]` for one of the servers' ports, trusting the throwaway CA.
fn vmail(servers: &TestServers, port: u16, tls: &str, extra: &str) -> String {
    format!(
        "mail-server = {}\nmail-port = {port}\ntls = {tls}\nca-file = {}\ntimeout = 5\n\
         helo-name = vmail-test.example.test\n{extra}",
        servers.host,
        servers.ca_cert.display()
    )
}

fn login(servers: &TestServers, password: &str) -> String {
    format!(
        "auth-type = auto\nauth-rsp = {}:{password}",
        servers.user.user
    )
}

#[test]
fn a_good_login_over_starttls_shows_the_certificate() {
    let servers = TestServers::from_env();
    let extra = login(&servers, &servers.user.password);
    let run = CheckEnv::new(&vmail(
        &servers,
        servers.submission_port,
        "starttls",
        &extra,
    ))
    .check(&[]);
    assert_exit(&run, 0);
    assert_verdict(
        &run,
        "[ ok ] AUTH PLAIN: login accepted (235 2.7.0 Authentication successful)",
    );
    let cert = verdict_starting(&run, "[ ok ] certificate verified: ");
    assert!(cert.contains("subject CN=localhost, issuer CN=vmail test CA, valid until "));
    let ehlo = verdict_starting(&run, "[ ok ] EHLO accepted; the server offers: ");
    assert!(
        ehlo.contains("STARTTLS (used), AUTH PLAIN LOGIN CRAM-MD5"),
        "{ehlo}"
    );
    assert!(ehlo.ends_with(", DSN"), "Postfix offers DSN: {ehlo}");
    assert!(
        run.stdout
            .contains("\nCertificate:\n  subject:      CN=localhost\n")
    );
    assert!(run.stdout.contains("\n  issuer:       CN=vmail test CA\n"));
    assert!(run.stdout.contains("\n  verification: verified\n"));
    assert!(run.stdout.contains("C: AUTH PLAIN <redacted>"));
    assert!(run.stdout.ends_with("Result: sending would work.\n"));
    assert_not_shown(&run, &servers.user.password);
}

#[test]
fn a_wrong_password_is_the_535_verdict() {
    let servers = TestServers::from_env();
    let extra = login(&servers, "wrong.password");
    let run = CheckEnv::new(&vmail(
        &servers,
        servers.submission_port,
        "starttls",
        &extra,
    ))
    .check(&[]);
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] 535 5.7.8: the server rejected the user or password in [VMAIL] auth-rsp; enter \
         it again with `vfxadmin config -a -p -e VMAIL auth-rsp`",
    );
    assert!(!run.stdout.contains("C: MAIL"));
    assert_not_shown(&run, "wrong.password");
}

/// STARTTLS on the implicit-TLS port: Postfix waits for a TLS hello, the
/// greeting never comes; a TLS probe finds the greeting.
#[test]
fn starttls_on_the_smtps_port_expects_implicit() {
    let servers = TestServers::from_env();
    let extra = format!("timeout = 2\n{}", login(&servers, &servers.user.password));
    let ini = vmail(&servers, servers.smtps_port, "starttls", &extra).replace("timeout = 5\n", "");
    let run = CheckEnv::new(&ini).check(&[]);
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] port ");
    assert!(
        verdict.starts_with(&format!(
            "[FAIL] port {} expects tls=implicit: over TLS from the first byte it greeted \"220 ",
            servers.smtps_port
        )),
        "{verdict}"
    );
    assert!(run.stdout.contains("Probe with tls=implicit"));
    // The probe never logs in.
    assert!(!run.stdout.contains("C: AUTH"), "{}", run.stdout);
    assert_not_shown(&run, &servers.user.password);
}

/// The same with the default 60 s timeout: Postfix's implicit-TLS port says
/// nothing in plain text, and within seconds (not a minute) the check says
/// the port speaks TLS first, from a TLS probe's greeting.
#[test]
fn starttls_on_the_smtps_port_with_the_default_timeout_is_told_within_seconds() {
    let servers = TestServers::from_env();
    let extra = login(&servers, &servers.user.password);
    let ini = vmail(&servers, servers.smtps_port, "starttls", &extra).replace("timeout = 5\n", "");
    let started = std::time::Instant::now();
    let run = CheckEnv::new(&ini).check(&[]);
    let elapsed = started.elapsed();
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] no greeting in plain text");
    assert!(
        verdict.starts_with(&format!(
            "[FAIL] no greeting in plain text from {}:{} within 5 s: this port speaks TLS first: \
             set tls = implicit (over TLS from the first byte it greeted \"220 ",
            servers.host, servers.smtps_port
        )),
        "{verdict}"
    );
    assert!(elapsed < std::time::Duration::from_secs(20), "{elapsed:?}");
    assert!(!run.stdout.contains("C: AUTH"), "{}", run.stdout);
    assert_not_shown(&run, &servers.user.password);
}

#[test]
fn implicit_on_a_plain_port_is_told_it_greets_in_clear() {
    let servers = TestServers::from_env();
    let run = CheckEnv::new(&vmail(&servers, servers.smtp_plain_port, "implicit", "")).check(&[]);
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] port ");
    assert!(
        verdict.starts_with(&format!(
            "[FAIL] port {} does not speak TLS from the first byte: it greeted in plain text",
            servers.smtp_plain_port
        )),
        "{verdict}"
    );
    assert!(verdict.ends_with(
        "and offers no STARTTLS; use the server's implicit-TLS port (usually 465), or tls=none \
         only on a trusted network"
    ));
}

#[test]
fn tls_none_on_the_submission_port_is_told_to_use_starttls() {
    let servers = TestServers::from_env();
    let run = CheckEnv::new(&vmail(&servers, servers.submission_port, "none", "")).check(&[]);
    assert_exit(&run, 0);
    assert_verdict(&run, "[warn] the server offers STARTTLS; set tls=starttls");
    assert_verdict(
        &run,
        "[warn] after STARTTLS the server offers AUTH PLAIN LOGIN CRAM-MD5; with tls=none mail \
         goes without logging in",
    );
    // With a login configured, it cannot be used: that fails the check.
    let extra = format!(
        "allow-plaintext-auth = yes\n{}",
        login(&servers, &servers.user.password)
    );
    let run = CheckEnv::new(&vmail(&servers, servers.submission_port, "none", &extra)).check(&[]);
    assert_exit(&run, 1);
    assert_verdict(&run, "[warn] the server offers STARTTLS; set tls=starttls");
    assert_verdict(
        &run,
        "[FAIL] auth-type=auto is set, but the server offers AUTH only after STARTTLS (AUTH \
         PLAIN LOGIN CRAM-MD5); set tls=starttls",
    );
    assert_not_shown(&run, &servers.user.password);
}

#[test]
fn a_certificate_from_an_unknown_ca_is_shown_and_not_verified() {
    let servers = TestServers::from_env();
    let ini = vmail(&servers, servers.smtps_port, "implicit", "")
        .lines()
        .filter(|l| !l.starts_with("ca-file"))
        .collect::<Vec<_>>()
        .join("\n");
    let run = CheckEnv::new(&ini).check(&[]);
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] the TLS certificate");
    assert!(
        verdict.starts_with(&format!(
            "[FAIL] the TLS certificate of {} is not verified (invalid peer certificate: \
             UnknownIssuer): subject CN=localhost, issuer CN=vmail test CA, valid until ",
            servers.host
        )),
        "{verdict}"
    );
    assert!(verdict.ends_with(
        "; if the server uses a private CA, set [VMAIL] ca-file to that CA's PEM file; if the \
         name differs, set mail-server to a name the certificate carries; tls-verify=no turns \
         the check off (not recommended)"
    ));
    assert!(run.stdout.contains(
        "\n  verification: NOT verified (invalid peer certificate: UnknownIssuer); fetched \
         without verifying it, to show it\n"
    ));
}

#[test]
fn the_plain_port_without_auth_works_with_warnings() {
    let servers = TestServers::from_env();
    let run = CheckEnv::new(&vmail(
        &servers,
        servers.smtp_plain_port,
        "opportunistic",
        "",
    ))
    .check(&[]);
    assert_exit(&run, 0);
    assert_verdict(
        &run,
        "[warn] the server offers no AUTH: mail will be sent without logging in (the server \
         decides at RCPT TO whether it relays for this host)",
    );
}

#[test]
fn pop_before_smtp_is_reported() {
    let servers = TestServers::from_env();
    let pop = |password: &str| {
        format!(
            "pop-server = {}\npop-port = {}\npop-rsp = {}:{password}",
            servers.host, servers.pop3_port, servers.user.user
        )
    };
    let good = pop(&servers.user.password);
    let run = CheckEnv::new(&vmail(&servers, servers.smtp_plain_port, "none", &good)).check(&[]);
    assert_exit(&run, 0);
    assert_verdict(
        &run,
        &format!(
            "[ ok ] POP-before-SMTP: login to {}:{} accepted",
            servers.host, servers.pop3_port
        ),
    );
    assert!(run.stdout.contains("C: PASS <redacted>"));
    assert_not_shown(&run, &servers.user.password);
    let bad = pop("wrong.password");
    let run = CheckEnv::new(&vmail(&servers, servers.smtp_plain_port, "none", &bad)).check(&[]);
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] POP-before-SMTP");
    assert!(
        verdict.starts_with(&format!(
            "[FAIL] POP-before-SMTP login to {}:{} failed at PASS (-ERR",
            servers.host, servers.pop3_port
        )),
        "{verdict}"
    );
    assert!(verdict.ends_with(
        "check the POP3 user and password in [VMAIL] pop-rsp; enter them again with \
         `vfxadmin config -a -p -e VMAIL pop-rsp`"
    ));
    assert_not_shown(&run, "wrong.password");
}

/// The Message-ID the check printed for its test message.
fn message_id(run: &common::Run) -> String {
    let line = verdict_starting(run, "[ ok ] test message to ");
    let start = line.find("Message-ID: <").unwrap() + "Message-ID: <".len();
    line[start..]
        .trim_end_matches(')')
        .trim_end_matches('>')
        .to_string()
}

#[test]
fn send_test_delivers_a_real_message() {
    let servers = TestServers::from_env();
    let extra = login(&servers, &servers.user.password);
    let to = servers.user.user.clone();
    let run = CheckEnv::new(&vmail(
        &servers,
        servers.submission_port,
        "starttls",
        &extra,
    ))
    .check(&["--send-test", &to]);
    assert_exit(&run, 0);
    assert_verdict(&run, &format!("[ ok ] RCPT TO:<{to}>: 250 2.1.5 Ok"));
    assert_verdict(&run, "[ ok ] DATA: 354 End data with <CR><LF>.<CR><LF>");
    let mail = verdict_starting(&run, "[ ok ] MAIL FROM:<fax@example.test>");
    assert!(mail.ends_with(": 250 2.1.0 Ok"), "{mail}");
    let id = message_id(&run);
    let bytes = servers
        .delivered_message(&id, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{id} never arrived\n{}", servers.log_tails(30)));
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&format!("\nSubject: vmail test from {}\n", hostname())),
        "{text}"
    );
    assert_not_shown(&run, &servers.user.password);
}

#[test]
fn send_test_refused_for_relay_fails_the_check() {
    let servers = TestServers::from_env();
    let run = CheckEnv::new(&vmail(&servers, servers.smtp_plain_port, "none", ""))
        .check(&["--send-test", &servers.unknown_rcpt]);
    assert_exit(&run, 1);
    let verdict = verdict_starting(&run, "[FAIL] 554 5.7.1: the server refused the recipient");
    assert!(
        verdict.ends_with(
            "Relay access denied); the server does not relay for this host as it logs in now; \
             set auth-type and auth-rsp, or ask the mail server's administrator"
        ),
        "{verdict}"
    );
}
