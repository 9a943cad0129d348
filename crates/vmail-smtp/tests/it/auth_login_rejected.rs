//! A 535 to AUTH: deferred (a typo must not bounce the queue), pointing at
//! auth-rsp, and never a MAIL FROM without the login.
use crate::common;
use vmail_core::AuthType;
use vmail_testkit::fault::{FaultServer, Script};

#[tokio::test]
async fn a_535_defers_and_nothing_is_sent_unauthenticated() -> std::io::Result<()> {
    let script = Script::new()
        .extensions(&["PIPELINING", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES"])
        .auth_reply("535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6");
    let server = FaultServer::start(script).await?;
    let mut settings = common::settings(server.port());
    common::login_in_clear(&mut settings, AuthType::Login);
    let report = common::send_simple(settings).await;
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}");
    // The reason says what happened (the 535); the table's advice names the key.
    common::assert_login_refused(&report);
    assert!(!server.received("MAIL"), "{:?}", server.commands());
    // The client answered both LOGIN prompts, in base64, masked in the transcript.
    let commands = server.commands();
    assert_eq!(
        &commands[1..4],
        &[
            "AUTH LOGIN",
            "am1zMUBqbXMxLm5ldA==",
            "bm90Lm15LnJlYWwucGFzc3dvcmQ="
        ]
    );
    let transcript = report.transcript.to_string();
    assert!(transcript.contains("C: AUTH LOGIN\n"), "{transcript}");
    assert_eq!(
        transcript.matches("C: <redacted>").count(),
        2,
        "{transcript}"
    );
    common::assert_no_secret(&report, common::USER, common::PASSWORD);
    Ok(())
}
