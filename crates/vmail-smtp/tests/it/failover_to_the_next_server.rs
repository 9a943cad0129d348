//! `[VMAIL] mail-server` with several servers: a server that is down, busy
//! or silent, or answers EHLO, AUTH or MAIL with a 4xx, hands the session
//! to the next one; a 5xx to the envelope and a 535 login are not hidden by
//! failover; when every server fails, each one's error is kept, in order.
use crate::common;
use std::time::Duration;
use vmail_core::{AuthType, MailServer, SmtpSettings};
use vmail_smtp::{SmtpError, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

/// A port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `first` then each of `more`, all on 127.0.0.1.
fn servers(first: u16, more: &[u16], timeout: Duration) -> SmtpSettings {
    let mut settings = common::settings(first);
    settings.timeout = timeout;
    settings.fallbacks = more
        .iter()
        .map(|port| MailServer::new("127.0.0.1", *port))
        .collect();
    settings
}

/// A server that answers every login with 535.
fn refusing_logins() -> Script {
    Script::new()
        .extensions(&["PIPELINING", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES"])
        .auth_reply("535 5.7.8 Error: authentication failed")
}

fn tried(report: &vmail_smtp::SessionReport) -> Vec<String> {
    report.failed_over.iter().map(|f| f.to_string()).collect()
}

#[tokio::test]
async fn a_closed_port_a_421_and_a_silent_server_are_passed_over_in_order() -> std::io::Result<()> {
    let busy =
        FaultServer::start(Script::new().greeting("421 4.3.2 Service shutting down")).await?;
    let silent = FaultServer::start(Script::new().silent_banner()).await?;
    let good = FaultServer::start(Script::new()).await?;
    let closed = closed_port();
    let settings = servers(
        closed,
        &[busy.port(), silent.port(), good.port()],
        Duration::from_millis(800),
    );
    let report = common::send_simple(settings).await;
    common::assert_delivered(&report);
    let tried = tried(&report);
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert!(
        tried[0].starts_with(&format!(
            "127.0.0.1:{closed}: cannot connect to 127.0.0.1:{closed}: "
        )),
        "{tried:?}"
    );
    assert_eq!(
        tried[1],
        format!(
            "127.0.0.1:{}: the server refused the connection in its greeting (server said: 421 4.3.2 Service shutting down)",
            busy.port()
        )
    );
    assert_eq!(
        tried[2],
        format!(
            "127.0.0.1:{}: no answer from the server within 0.8 s during waiting for the greeting",
            silent.port()
        )
    );
    assert_eq!(good.messages().len(), 1);
    let transcript = report.transcript.to_string();
    for port in [closed, busy.port(), silent.port(), good.port()] {
        assert!(
            transcript.contains(&format!("connecting to 127.0.0.1:{port}")),
            "{transcript}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn every_server_failing_defers_with_each_ones_error() -> std::io::Result<()> {
    let busy = FaultServer::start(Script::new().greeting("421 4.3.2 busy")).await?;
    let closed = closed_port();
    let report = common::send_simple(servers(closed, &[busy.port()], Duration::from_secs(5))).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    let Some(SmtpError::AllServersFailed { failures }) = &report.session_error else {
        panic!("{:?}", report.session_error);
    };
    assert_eq!(failures.len(), 2);
    let text = outcome.to_string();
    assert!(
        text.starts_with(&format!(
            "deferred: no mail server took the session (2 tried): 127.0.0.1:{closed}: cannot connect to 127.0.0.1:{closed}: "
        )),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "; 127.0.0.1:{}: the server refused the connection in its greeting (server said: 421 4.3.2 busy)",
            busy.port()
        )),
        "{text}"
    );
    let advice = common::advice(&report);
    assert!(
        advice.contains(&format!(
            "127.0.0.1:{closed}: check [VMAIL] mail-server and mail-port"
        )),
        "{advice}"
    );
    Ok(())
}

#[tokio::test]
async fn a_failed_server_is_skipped_by_the_next_session_while_a_later_one_works()
-> std::io::Result<()> {
    let busy = FaultServer::start(Script::new().greeting("421 4.3.2 busy")).await?;
    let good = FaultServer::start(Script::new()).await?;
    let submitter = Submitter::new(servers(busy.port(), &[good.port()], Duration::from_secs(5)))
        .with_failover_backoff(Duration::from_secs(600), Duration::from_secs(3600));
    for _ in 0..3 {
        let report = submitter
            .send(vec![common::simple(&["a@example.test"])])
            .await;
        assert!(report.messages[0].outcome.is_delivered());
    }
    assert_eq!(busy.connections(), 1, "skipped after its first failure");
    assert_eq!(good.messages().len(), 3);
    Ok(())
}

#[tokio::test]
async fn a_451_to_mail_from_moves_the_message_to_the_next_server() -> std::io::Result<()> {
    let first = FaultServer::start(Script::new().mail_reply("451 4.3.0 try later")).await?;
    let good = FaultServer::start(Script::new()).await?;
    let report = Submitter::new(servers(
        first.port(),
        &[good.port()],
        Duration::from_secs(5),
    ))
    .send(vec![
        common::simple(&["a@example.test"]),
        common::simple(&["b@example.test"]),
    ])
    .await;
    common::assert_delivered(&report);
    assert_eq!(good.messages().len(), 2);
    assert_eq!(first.messages().len(), 0);
    Ok(())
}

#[tokio::test]
async fn a_550_recipient_is_the_messages_fate_and_not_tried_elsewhere() -> std::io::Result<()> {
    let refusing = FaultServer::start(Script::new().rcpt_reply(
        "nobody@example.test",
        "550 5.1.1 <nobody@example.test>: no such user",
    ))
    .await?;
    let other = FaultServer::start(Script::new()).await?;
    let report = Submitter::new(servers(
        refusing.port(),
        &[other.port()],
        Duration::from_secs(5),
    ))
    .send(vec![common::simple(&["nobody@example.test"])])
    .await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_failed(), "{outcome}");
    assert_eq!(outcome.reply().map(|r| r.code), Some(550));
    assert_eq!(other.connections(), 0, "the next server was not asked");
    assert!(report.failed_over.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_535_is_reported_as_the_wrong_login_not_failed_over() -> std::io::Result<()> {
    let script = refusing_logins();
    let first = FaultServer::start(script.clone()).await?;
    let second = FaultServer::start(script).await?;
    let mut settings = servers(first.port(), &[second.port()], Duration::from_secs(5));
    common::login_in_clear(&mut settings, AuthType::Plain);
    let report = common::send_simple(settings).await;
    common::assert_login_refused(&report);
    assert_eq!(second.connections(), 0, "every server shares the login");
    Ok(())
}

#[tokio::test]
async fn a_535_after_a_failover_still_names_the_server_passed_over() -> std::io::Result<()> {
    let refusing = FaultServer::start(refusing_logins()).await?;
    let closed = closed_port();
    let mut settings = servers(closed, &[refusing.port()], Duration::from_secs(5));
    common::login_in_clear(&mut settings, AuthType::Plain);
    let report = common::send_simple(settings).await;
    assert!(matches!(
        report.session_error,
        Some(SmtpError::AuthRejected { .. })
    ));
    let tried = tried(&report);
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert!(tried[0].starts_with(&format!("127.0.0.1:{closed}: cannot connect")));
    Ok(())
}

#[tokio::test]
async fn a_certificate_failure_is_passed_over_for_a_server_that_verifies() -> std::io::Result<()> {
    use vmail_testkit::fault::TestCertificate;
    let untrusted = TestCertificate::self_signed(&["127.0.0.1"]).map_err(std::io::Error::other)?;
    let trusted = TestCertificate::from_test_ca(&["127.0.0.1"]).map_err(std::io::Error::other)?;
    let bad = FaultServer::start_implicit_tls(Script::new(), &untrusted).await?;
    let good = FaultServer::start_implicit_tls(Script::new(), &trusted).await?;
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &trusted.trust_pem)?;
    let mut settings = servers(bad.port(), &[good.port()], Duration::from_secs(5));
    settings.tls = vmail_core::TlsMode::Implicit;
    settings.ca_file = Some(ca);
    let report = common::send_simple(settings).await;
    common::assert_delivered(&report);
    assert_eq!(report.failed_over.len(), 1);
    assert!(
        matches!(*report.failed_over[0].error, SmtpError::Tls { .. }),
        "{:?}",
        report.failed_over[0].error
    );
    assert_eq!(good.messages().len(), 1);
    assert!(!bad.received("MAIL"));
    Ok(())
}
