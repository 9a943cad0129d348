//! `vfxadmin check --send-test`: the reply to MAIL, RCPT and DATA, each on
//! its own line, against the fault server.
use crate::check_support;

use check_support::*;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_message_is_sent_and_each_reply_shown() {
    let server = FaultServer::start(Script::new()).await.unwrap();
    let run = CheckEnv::fault(server.port(), "tls = none")
        .check_async(&["--send-test", "admin@example.test"])
        .await;
    assert_exit(&run, 0);
    for line in [
        "[ ok ] MAIL FROM:<fax@example.test>: 250 2.1.0 Ok",
        "[ ok ] RCPT TO:<admin@example.test>: 250 2.1.5 Ok",
        "[ ok ] DATA: 354 End data with <CR><LF>.<CR><LF>",
        "[ ok ] end of data: 250 2.0.0 Ok: queued as FAULT1",
    ] {
        assert_verdict(&run, line);
    }
    let accepted = verdict_starting(&run, "[ ok ] test message to <admin@example.test> accepted");
    assert!(
        accepted.contains(&format!("Subject: vmail test from {}", hostname())),
        "{accepted}"
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let message = String::from_utf8_lossy(&messages[0]);
    assert!(
        message.contains(&format!("\r\nSubject: vmail test from {}\r\n", hostname())),
        "{message}"
    );
    assert!(message.contains("To: <admin@example.test>"), "{message}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_to_mail_from_fails_the_check() {
    let server = FaultServer::start(Script::new().mail_reply("451 4.3.0 try later"))
        .await
        .unwrap();
    let run = CheckEnv::fault(server.port(), "tls = none")
        .check_async(&["--send-test", "admin@example.test"])
        .await;
    assert_exit(&run, 1);
    assert_verdict(
        &run,
        "[FAIL] MAIL FROM:<fax@example.test>: 451 4.3.0 try later",
    );
    assert_verdict(
        &run,
        "[FAIL] 451 4.3.0: the server refused the sender <fax@example.test> in MAIL FROM (try \
         later); try again later",
    );
    assert!(server.messages().is_empty());
    server.stop();
}
