//! Helpers for the scenarios against the private Postfix and Dovecot that
//! `bash tests/run.sh` starts (`VMAIL_TEST_SERVERS`).

use std::time::Duration;
use vmail_core::{AuthType, Envelope, PopSettings, Secret, SmtpSettings, TlsMode};
use vmail_smtp::{Body, Outgoing, SessionReport, Submitter};
use vmail_testkit::servers::{TestServers, TestUser};

pub const DELIVERY_WAIT: Duration = Duration::from_secs(20);

pub type Servers = TestServers;

pub fn servers() -> TestServers {
    TestServers::from_env()
}

/// Settings for one of the servers' ports, trusting the throwaway CA.
pub fn settings(servers: &TestServers, port: u16, tls: TlsMode) -> SmtpSettings {
    let mut settings = SmtpSettings::plain(servers.host.clone(), port);
    settings.tls = tls;
    settings.ca_file = Some(servers.ca_cert.clone());
    settings.helo_name = "vmail-test.example.test".to_string();
    settings.timeout = Duration::from_secs(10);
    settings
}

pub fn login(settings: &mut SmtpSettings, auth_type: AuthType, user: &TestUser) {
    settings.auth_type = auth_type;
    settings.auth_responses = vec![
        Secret::new(user.user.as_str()),
        Secret::new(user.password.as_str()),
    ];
}

pub fn pop(
    servers: &TestServers,
    port: u16,
    tls: bool,
    user: &TestUser,
    password: &str,
) -> PopSettings {
    PopSettings {
        host: servers.host.clone(),
        port,
        tls,
        responses: vec![Secret::new(user.user.as_str()), Secret::new(password)],
        delay: Duration::from_millis(300),
    }
}

pub use vmail_testkit::servers::message_id;

/// A small message with a dot line, a bare LF and a known body.
pub fn message(from: &str, to: &[&str], message_id: &str) -> Outgoing {
    let body = format!(
        "From: <{from}>\r\nTo: <{}>\r\nSubject: vmail test\r\nMessage-ID: <{message_id}>\r\n\r\n\
         first line\r\n.\r\n.dot line\nbare LF above\r\nlast line\r\n",
        to.join(">, <")
    );
    Outgoing::new(
        Envelope::new(from, to.iter().map(|s| s.to_string()).collect()),
        Body::Bytes(body.into_bytes()),
    )
}

/// [`message`] from `fax@example.test` to the test user.
pub fn to_user(servers: &TestServers, message_id: &str) -> Outgoing {
    message(
        "fax@example.test",
        &[servers.user.user.as_str()],
        message_id,
    )
}

/// One session sending [`to_user`] under a new Message-ID tagged `tag`:
/// the report and that Message-ID.
pub async fn send_to_user(
    servers: &TestServers,
    settings: SmtpSettings,
    tag: &str,
) -> (SessionReport, String) {
    let id = message_id(tag);
    let report = Submitter::new(settings)
        .send(vec![to_user(servers, &id)])
        .await;
    (report, id)
}

/// The message `message_id` as it arrived in the Maildir, waiting up to
/// [`DELIVERY_WAIT`]; a panic with the servers' logs if it never does.
pub fn arrived(servers: &TestServers, message_id: &str) -> Vec<u8> {
    servers
        .delivered_message(message_id, DELIVERY_WAIT)
        .unwrap_or_else(|| panic!("{message_id} never arrived\n{}", servers.log_tails(30)))
}

/// The body part of what arrived, after Postfix's own headers and ours.
pub fn arrived_body(servers: &TestServers, message_id: &str) -> String {
    let bytes = arrived(servers, message_id);
    let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
    text.split_once("\n\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

pub const EXPECTED_BODY: &str = "first line\n.\n.dot line\nbare LF above\nlast line\n";

/// The message `message_id` arrived with the body [`message`] sent.
pub fn assert_arrived(servers: &TestServers, message_id: &str) {
    assert_eq!(arrived_body(servers, message_id), EXPECTED_BODY);
}

pub use super::assert_delivered;
