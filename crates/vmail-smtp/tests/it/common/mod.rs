//! Shared by the scenario files: settings for the fault server, a message,
//! the session run the scenarios share, the assertions they share, and the
//! secret search.
#![allow(dead_code)]

pub mod oauth;
pub mod real;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::time::Duration;
use vmail_core::{AuthType, Envelope, Secret, SmtpSettings};
use vmail_smtp::{Body, Outgoing, SessionReport, SmtpError, Submitter};

pub const USER: &str = "jms1@jms1.net";
pub const PASSWORD: &str = "not.my.real.password";

/// Plain SMTP to the fault server, 5 s per step: the scenarios share one
/// test binary and run side by side on a busy machine, so a step that
/// should succeed gets room. The timeout scenarios use [`hurried`].
pub fn settings(port: u16) -> SmtpSettings {
    let mut settings = SmtpSettings::plain("127.0.0.1", port);
    settings.timeout = Duration::from_secs(5);
    settings.helo_name = "client.test".to_string();
    settings
}

/// [`settings`] with 500 ms per step, for the scenarios that wait for the
/// timeout on purpose (a silent server, a stall).
pub fn hurried(port: u16) -> SmtpSettings {
    let mut settings = settings(port);
    settings.timeout = Duration::from_millis(500);
    settings
}

pub fn credentials() -> Vec<Secret> {
    vec![Secret::new(USER), Secret::new(PASSWORD)]
}

/// Log in with `auth_type` and [`credentials`]; AUTH in clear stays refused
/// (see [`login_in_clear`]).
pub fn login(settings: &mut SmtpSettings, auth_type: AuthType) {
    settings.auth_type = auth_type;
    settings.auth_responses = credentials();
}

/// [`login`] with allow-plaintext-auth=yes: the fault server has no TLS.
pub fn login_in_clear(settings: &mut SmtpSettings, auth_type: AuthType) {
    login(settings, auth_type);
    settings.allow_plaintext_auth = true;
}

/// One session sending [`simple`] to `a@example.test`.
pub async fn send_simple(settings: SmtpSettings) -> SessionReport {
    Submitter::new(settings)
        .send(vec![simple(&["a@example.test"])])
        .await
}

pub fn message(from: &str, to: &[&str], body: &str) -> Outgoing {
    Outgoing::new(
        Envelope::new(from, to.iter().map(|s| s.to_string()).collect()),
        Body::Bytes(body.as_bytes().to_vec()),
    )
}

pub fn simple(to: &[&str]) -> Outgoing {
    message(
        "fax@example.test",
        to,
        "Subject: test\r\nMessage-ID: <t@x>\r\n\r\nhello\r\n",
    )
}

/// Every message of the session (at least one) was delivered.
pub fn assert_delivered(report: &SessionReport) {
    assert!(!report.messages.is_empty(), "no message in the report");
    for message in &report.messages {
        assert!(
            message.outcome.is_delivered(),
            "{}\n{}",
            message.outcome,
            report.transcript
        );
    }
}

/// The (first) message was deferred.
pub fn assert_deferred(report: &SessionReport) {
    let outcome = &report.messages[0].outcome;
    assert!(outcome.is_deferred(), "{outcome}\n{}", report.transcript);
}

/// The advice of the session error, or empty.
pub fn advice(report: &SessionReport) -> String {
    report
        .session_error
        .as_ref()
        .and_then(|e| e.advice())
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// A login refused with 535: an AuthRejected session error whose advice
/// names `[VMAIL] auth-rsp`, and the 535 kept in the first message's outcome.
pub fn assert_login_refused(report: &SessionReport) {
    assert!(
        matches!(report.session_error, Some(SmtpError::AuthRejected { .. })),
        "{:?}",
        report.session_error
    );
    let outcome = &report.messages[0].outcome;
    assert_eq!(outcome.reply().map(|r| r.code), Some(535), "{outcome}");
    let advice = advice(report);
    assert!(advice.contains("VMAIL auth-rsp"), "{advice}");
}

/// Every form of the test password that must never be shown.
pub fn secret_forms(user: &str, password: &str) -> Vec<String> {
    let plain = BASE64.encode(format!("\0{user}\0{password}"));
    vec![
        password.to_string(),
        plain,
        BASE64.encode(user),
        BASE64.encode(password),
        // CRAM-MD5 answer to the fault server's fixed challenge.
        cram_answer(user, password),
    ]
}

fn cram_answer(user: &str, password: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<md5::Md5>::new_from_slice(password.as_bytes()) else {
        return String::new();
    };
    mac.update(vmail_testkit::fault::CRAM_CHALLENGE.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    BASE64.encode(format!("{user} {hex}"))
}

/// Everything a report can show: the transcript, the outcomes, the errors
/// and their Debug forms.
pub fn everything_shown(report: &SessionReport) -> String {
    let mut shown = format!("{}\n{report:?}\n", report.transcript);
    if let Some(error) = &report.session_error {
        shown.push_str(&format!("{error}\n{error:?}\n"));
    }
    for message in &report.messages {
        shown.push_str(&format!("{}\n", message.outcome));
        if let Some(error) = &message.error {
            shown.push_str(&format!("{error}\n{error:?}\n"));
        }
    }
    shown
}

pub fn assert_no_secret(report: &SessionReport, user: &str, password: &str) {
    let shown = everything_shown(report);
    for form in secret_forms(user, password) {
        assert!(!shown.contains(&form), "`{form}` was shown in:\n{shown}");
    }
}
