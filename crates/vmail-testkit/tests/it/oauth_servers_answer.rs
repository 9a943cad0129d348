//! The OAuth side of the harness, by hand: a token from the token service
//! (over HTTPS, test CA) logs in with XOAUTH2 and OAUTHBEARER at the OAuth
//! submission listener, where the second Dovecot introspects it; a revoked,
//! bogus or foreign token gets the 334 JSON challenge and then 535; mail
//! sent after a token login lands in the Maildir. A tiny SMTP client over
//! tokio-rustls: this checks the harness, not vmail.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use vmail_testkit::oauth::{
    AssertionClaims, ClientSpec, Grant, TEST_RSA_PRIVATE_KEY_PEM, TEST_RSA_PUBLIC_KEY_PEM,
    TokenServiceClient, TokenServiceControl, sign_assertion, unique_client_id,
};
use vmail_testkit::servers::TestServers;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One SMTP connection, in clear text or after STARTTLS.
struct Smtp<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Smtp<S> {
    async fn send(&mut self, line: &str) {
        let bytes = format!("{line}\r\n");
        let write = self.io.get_mut().write_all(bytes.as_bytes());
        tokio::time::timeout(IO_TIMEOUT, write)
            .await
            .expect("write timed out")
            .expect("write");
    }

    /// One reply, all its lines.
    async fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = self.io.read_line(&mut line);
            tokio::time::timeout(IO_TIMEOUT, read)
                .await
                .expect("read timed out")
                .expect("read");
            assert!(
                line.ends_with("\r\n"),
                "incomplete line: {line:?} after {lines:?}"
            );
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    /// Sends `line`; the first line of the reply, which must start with `code`.
    async fn step(&mut self, line: &str, code: &str) -> String {
        self.send(line).await;
        let reply = self.reply().await;
        assert!(reply[0].starts_with(code), "{line:.30} -> {reply:?}");
        reply[0].clone()
    }

    /// EHLO; its keywords (`STARTTLS`, `AUTH LOGIN XOAUTH2 ...`).
    async fn ehlo(&mut self) -> Vec<String> {
        self.send("EHLO client.example.test").await;
        let reply = self.reply().await;
        assert!(
            reply.iter().all(|l| l.starts_with("250")),
            "EHLO: {reply:?}"
        );
        reply.iter().skip(1).map(|l| l[4..].to_owned()).collect()
    }
}

/// Connects to the OAuth listener, checks that no AUTH is offered before
/// TLS, does STARTTLS (certificate verified against the test CA for
/// `localhost`) and returns the session with the EHLO keywords after TLS.
async fn starttls(servers: &TestServers) -> (Smtp<TlsStream<TcpStream>>, Vec<String>) {
    let tcp = TcpStream::connect(servers.addr(servers.oauth_port))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", servers.log_tails(20)));
    let mut clear = Smtp {
        io: BufReader::new(tcp),
    };
    let greeting = clear.reply().await;
    assert!(greeting[0].starts_with("220 "), "greeting: {greeting:?}");
    let keywords = clear.ehlo().await;
    assert!(keywords.iter().any(|k| k == "STARTTLS"), "{keywords:?}");
    assert!(
        !keywords.iter().any(|k| k.starts_with("AUTH")),
        "AUTH before TLS: {keywords:?}"
    );
    clear.step("STARTTLS", "220").await;

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&servers.ca_cert).expect("test CA"))
        .expect("add test CA");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(servers.tls_name.clone()).expect("server name");
    let tcp = clear.io.into_inner();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let mut smtp = Smtp {
        io: BufReader::new(tls),
    };
    let keywords = smtp.ehlo().await;
    (smtp, keywords)
}

/// A client of the service start.sh runs, and a token for `mailbox` by
/// client credentials over HTTPS. Returns the client id too.
fn token_for(
    servers: &TestServers,
    prefix: &str,
    mailbox: &str,
) -> (TokenServiceClient, String, String) {
    let service = TokenServiceClient::from_servers(servers).expect("token service client");
    let id = unique_client_id(prefix);
    service
        .register_client(
            &ClientSpec::new(&id, mailbox)
                .with_secret("harness-secret")
                .with_grants(&[Grant::ClientCredentials])
                .with_token_lifetime(Duration::from_secs(300)),
        )
        .expect("register client");
    let token = service
        .client_credentials(
            &id,
            "harness-secret",
            Some("https://outlook.office365.com/.default"),
        )
        .expect("token by client credentials");
    (service, id, token.access_token)
}

fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

fn oauthbearer(user: &str, token: &str) -> String {
    STANDARD.encode(format!("n,a={user},\x01auth=Bearer {token}\x01\x01"))
}

/// The decoded JSON of a `334 <base64>` challenge.
fn challenge_json(line: &str) -> serde_json::Value {
    let encoded = line
        .strip_prefix("334 ")
        .unwrap_or_else(|| panic!("not a 334: {line}"));
    let bytes = STANDARD.decode(encoded.trim()).expect("base64 challenge");
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&bytes)))
}

/// MAIL, RCPT, DATA after a login; the message is found in the Maildir.
async fn deliver<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Smtp<S>,
    servers: &TestServers,
    tag: &str,
) {
    let message_id = format!("{}@oauth.testkit.example.test", unique_client_id(tag));
    smtp.step("MAIL FROM:<sender@example.test>", "250").await;
    smtp.step(&format!("RCPT TO:<{}>", servers.user.user), "250")
        .await;
    smtp.step("DATA", "354").await;
    smtp.step(
        &format!("Subject: {tag}\r\nMessage-ID: <{message_id}>\r\n\r\nhello\r\n."),
        "250",
    )
    .await;
    smtp.step("QUIT", "221").await;
    let found = servers.wait_for_message(&message_id, Duration::from_secs(10));
    assert!(
        found.is_some(),
        "not delivered: {message_id}\n{}",
        servers.log_tails(20)
    );
}

#[tokio::test]
async fn oauth_port_offers_login_xoauth2_and_oauthbearer_after_starttls() {
    let servers = TestServers::from_env();
    let (mut smtp, keywords) = starttls(&servers).await;
    let auth = keywords
        .iter()
        .find(|k| k.starts_with("AUTH "))
        .expect("AUTH after TLS");
    let mut mechanisms: Vec<&str> = auth.split_whitespace().skip(1).collect();
    mechanisms.sort_unstable();
    assert_eq!(mechanisms, ["LOGIN", "OAUTHBEARER", "XOAUTH2"], "{auth}");
    // LOGIN is offered and always refused, like a tenant without passwords.
    smtp.step("AUTH LOGIN", "334").await;
    smtp.step(&STANDARD.encode(&servers.user.user), "334").await;
    smtp.step(&STANDARD.encode(&servers.user.password), "535")
        .await;
    smtp.step("QUIT", "221").await;
}

#[tokio::test]
async fn xoauth2_with_a_client_credentials_token_logs_in_and_delivers() {
    let servers = TestServers::from_env();
    let mailbox = servers.user.user.clone();
    let (service, id, token) = token_for(&servers, "harness-xoauth2", &mailbox);
    let (mut smtp, _) = starttls(&servers).await;
    smtp.step(
        &format!("AUTH XOAUTH2 {}", xoauth2(&mailbox, &token)),
        "235",
    )
    .await;
    deliver(&mut smtp, &servers, "xoauth2").await;
    let counters = service.counters(&id).expect("counters");
    assert_eq!(counters.token_requests(Grant::ClientCredentials), 1);
    assert_eq!(
        (counters.introspections, counters.introspections_active),
        (1, 1)
    );
}

#[tokio::test]
async fn oauthbearer_with_a_client_credentials_token_logs_in_and_delivers() {
    let servers = TestServers::from_env();
    let mailbox = servers.user.user.clone();
    let (_service, _id, token) = token_for(&servers, "harness-oauthbearer", &mailbox);
    let (mut smtp, _) = starttls(&servers).await;
    smtp.step(
        &format!("AUTH OAUTHBEARER {}", oauthbearer(&mailbox, &token)),
        "235",
    )
    .await;
    deliver(&mut smtp, &servers, "oauthbearer").await;
}

/// Google's and Microsoft's XOAUTH2: a refused token gets a 334 with the
/// JSON error; the client answers with an empty line and gets the 535.
#[tokio::test]
async fn xoauth2_with_a_revoked_token_gets_the_json_challenge_then_535() {
    let servers = TestServers::from_env();
    let mailbox = servers.user.user.clone();
    let (service, id, token) = token_for(&servers, "harness-revoked", &mailbox);
    service.revoke_tokens(&id).expect("revoke");
    let (mut smtp, _) = starttls(&servers).await;
    let line = smtp
        .step(
            &format!("AUTH XOAUTH2 {}", xoauth2(&mailbox, &token)),
            "334",
        )
        .await;
    let json = challenge_json(&line);
    assert_eq!(json["status"], "401", "{json}");
    assert_eq!(json["schemes"], "bearer", "{json}");
    smtp.step("", "535").await;
    // The session goes on: a good token still logs in afterwards.
    service.reinstate_client(&id).expect("reinstate");
    let fresh = service
        .client_credentials(&id, "harness-secret", None)
        .expect("a new token")
        .access_token;
    smtp.step(
        &format!("AUTH XOAUTH2 {}", xoauth2(&mailbox, &fresh)),
        "235",
    )
    .await;
    smtp.step("QUIT", "221").await;
    let counters = service.counters(&id).expect("counters");
    assert_eq!(
        (counters.introspections, counters.introspections_active),
        (2, 1)
    );
}

/// RFC 7628 §3.2.3: after the error challenge the client sends `AQ==`
/// (a lone %x01) and the server ends the exchange with 535.
#[tokio::test]
async fn oauthbearer_with_a_bogus_token_gets_the_json_challenge_then_535() {
    let servers = TestServers::from_env();
    let (mut smtp, _) = starttls(&servers).await;
    let bogus = oauthbearer(&servers.user.user, "vmail-at-0000not-a-token");
    let line = smtp.step(&format!("AUTH OAUTHBEARER {bogus}"), "334").await;
    assert_eq!(challenge_json(&line)["status"], "invalid_token", "{line}");
    smtp.step("AQ==", "535").await;
    smtp.step("QUIT", "221").await;
}

/// A live token logs in only as the mailbox it was issued for.
#[tokio::test]
async fn a_token_for_another_mailbox_is_refused() {
    let servers = TestServers::from_env();
    let (service, id, token) = token_for(&servers, "harness-foreign", &servers.colon_user.user);
    let (mut smtp, _) = starttls(&servers).await;
    let line = smtp
        .step(
            &format!("AUTH XOAUTH2 {}", xoauth2(&servers.user.user, &token)),
            "334",
        )
        .await;
    challenge_json(&line);
    smtp.step("", "535").await;
    smtp.step("QUIT", "221").await;
    assert_eq!(
        service
            .counters(&id)
            .expect("counters")
            .introspections_active,
        1
    );
}

/// Introspection does not care how a token was got: one from a Google-style
/// service-account assertion, one from an approved device code and the one
/// its rotated refresh token gives all log in; the service's log names
/// clients and grants but never a token.
#[tokio::test]
async fn tokens_from_every_grant_log_in() {
    let servers = TestServers::from_env();
    let mailbox = servers.special_user.user.clone();
    let service = TokenServiceClient::from_servers(&servers).expect("token service client");

    let account = format!(
        "{}@project.iam.gserviceaccount.com",
        unique_client_id("harness-sa")
    );
    service
        .register_client(
            &ClientSpec::new(&account, &mailbox)
                .with_grants(&[Grant::JwtBearer])
                .with_jwt_public_key(TEST_RSA_PUBLIC_KEY_PEM),
        )
        .expect("register service account");
    let claims = AssertionClaims::new(
        &account,
        &mailbox,
        &service.urls().token(),
        Some("https://mail.google.com/"),
        Duration::from_secs(600),
    );
    let assertion = sign_assertion(TEST_RSA_PRIVATE_KEY_PEM, &claims).expect("sign");
    let from_jwt = service
        .jwt_bearer(&assertion)
        .expect("jwt bearer")
        .access_token;

    let device_client = unique_client_id("harness-device");
    service
        .register_client(
            &ClientSpec::new(&device_client, &mailbox)
                .with_device_timing(Duration::ZERO, Duration::from_secs(60)),
        )
        .expect("register device client");
    let device = service
        .start_device(&device_client, None)
        .expect("device code");
    service
        .approve_device(&device_client, Some(&device.user_code))
        .expect("approve");
    let from_device = service
        .poll_device(&device_client, &device.device_code)
        .expect("device tokens");
    let refresh = from_device.refresh_token.clone().expect("refresh token");
    let from_refresh = service
        .refresh(&device_client, None, &refresh)
        .expect("refresh")
        .access_token;

    let (mut smtp, _) = starttls(&servers).await;
    for token in [&from_jwt, &from_device.access_token, &from_refresh] {
        smtp.step(
            &format!("AUTH OAUTHBEARER {}", oauthbearer(&mailbox, token)),
            "235",
        )
        .await;
        // One login per session (RFC 4954): a fresh session for the next.
        smtp.step("QUIT", "221").await;
        (smtp, _) = starttls(&servers).await;
    }
    smtp.step("QUIT", "221").await;

    let log = std::fs::read_to_string(&servers.token_service_log).expect("token service log");
    assert!(log.contains(&format!("client_id={device_client}")), "{log}");
    for secret in [
        &from_jwt,
        &from_refresh,
        &refresh,
        &assertion,
        &device.device_code,
    ] {
        assert!(
            !log.contains(secret.as_str()),
            "a secret in the service's log"
        );
    }
}
