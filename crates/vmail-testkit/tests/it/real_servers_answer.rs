//! The private Postfix and Dovecot started by `bash tests/run.sh` answer on
//! every port, and each SMTP listener offers what its name promises. Plain
//! std sockets only: this checks the harness, not vmail.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use vmail_testkit::servers::TestServers;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

struct Line {
    reader: BufReader<TcpStream>,
}

impl Line {
    fn connect(servers: &TestServers, port: u16) -> Line {
        let stream = TcpStream::connect(servers.addr(port))
            .unwrap_or_else(|e| panic!("connect to port {port}: {e}\n{}", servers.log_tails(20)));
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("set_read_timeout");
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("set_write_timeout");
        Line {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, command: &str) {
        self.reader
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("write");
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        assert!(line.ends_with("\r\n"), "incomplete line: {line:?}");
        line.trim_end().to_owned()
    }

    /// Everything the server sends until it closes (or resets) the connection.
    fn read_until_closed(&mut self) -> Vec<u8> {
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return answer,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return answer,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// One SMTP reply, all its lines.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    /// Greeting (220), then EHLO: the EHLO keywords (`AUTH PLAIN LOGIN ...`).
    fn ehlo(&mut self) -> Vec<String> {
        let greeting = self.reply();
        assert!(greeting[0].starts_with("220 "), "greeting: {greeting:?}");
        self.send("EHLO client.example.test");
        let reply = self.reply();
        assert!(
            reply.iter().all(|l| l.starts_with("250")),
            "EHLO reply: {reply:?}"
        );
        self.send("QUIT");
        reply.iter().skip(1).map(|l| l[4..].to_owned()).collect()
    }
}

fn auth_line(keywords: &[String]) -> Option<&String> {
    keywords.iter().find(|k| k.starts_with("AUTH"))
}

#[test]
fn plain_port_offers_neither_tls_nor_auth() {
    let servers = TestServers::from_env();
    let keywords = Line::connect(&servers, servers.smtp_plain_port).ehlo();
    assert_eq!(auth_line(&keywords), None, "{keywords:?}");
    assert!(!keywords.iter().any(|k| k == "STARTTLS"), "{keywords:?}");
    let size = format!("SIZE {}", servers.message_size_limit);
    assert!(keywords.contains(&size), "{keywords:?}");
}

#[test]
fn submission_port_offers_starttls_and_no_auth_before_it() {
    let servers = TestServers::from_env();
    let keywords = Line::connect(&servers, servers.submission_port).ehlo();
    assert!(keywords.iter().any(|k| k == "STARTTLS"), "{keywords:?}");
    assert_eq!(auth_line(&keywords), None, "{keywords:?}");
}

#[test]
fn plainauth_port_offers_plain_login_and_cram_md5_without_tls() {
    let servers = TestServers::from_env();
    let keywords = Line::connect(&servers, servers.plainauth_port).ehlo();
    let auth = auth_line(&keywords).unwrap_or_else(|| panic!("no AUTH in {keywords:?}"));
    let mechanisms: Vec<&str> = auth.split_whitespace().skip(1).collect();
    for wanted in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        assert!(
            mechanisms.contains(&wanted),
            "{wanted} missing from {auth:?}"
        );
    }
    // The OAuth mechanisms live on their own listener (oauth_servers_answer.rs).
    assert_eq!(mechanisms.len(), 3, "{auth:?}");
    assert!(!keywords.iter().any(|k| k == "STARTTLS"), "{keywords:?}");
}

#[test]
fn pop3_port_greets() {
    let servers = TestServers::from_env();
    let mut pop = Line::connect(&servers, servers.pop3_port);
    let greeting = pop.read_line();
    assert!(greeting.starts_with("+OK"), "POP3 greeting: {greeting:?}");
    pop.send("QUIT");
    let bye = pop.read_line();
    assert!(bye.starts_with("+OK"), "POP3 QUIT: {bye:?}");
}

/// Implicit TLS: the server waits for a ClientHello and never greets in
/// clear text; a line of SMTP instead of a handshake gets a TLS alert or
/// the connection closed.
#[test]
fn implicit_tls_ports_speak_tls_first() {
    let servers = TestServers::from_env();
    for port in [servers.smtps_port, servers.pop3s_port] {
        let mut line = Line::connect(&servers, port);
        line.send("EHLO client.example.test");
        let answer = line.read_until_closed();
        assert!(
            answer.is_empty() || answer[0] == 0x15,
            "port {port} answered a clear-text line with {answer:?}, not a TLS alert"
        );
    }
}

/// A message sent on the plain port is found by its Message-ID, in the
/// recipient's Maildir; the special recipients get their 4xx and 5xx.
#[test]
fn plain_port_delivers_into_the_maildir() {
    let servers = TestServers::from_env();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let message_id = format!("{nanos}.{}@testkit.example.test", std::process::id());
    let mut smtp = Line::connect(&servers, servers.smtp_plain_port);
    let greeting = smtp.reply();
    assert!(greeting[0].starts_with("220 "), "greeting: {greeting:?}");
    let mut step = |command: &str, code: &str| {
        smtp.send(command);
        let reply = smtp.reply();
        assert!(reply[0].starts_with(code), "{command} -> {reply:?}");
    };
    step("EHLO client.example.test", "250");
    step("MAIL FROM:<sender@example.test>", "250");
    step(&format!("RCPT TO:<{}>", servers.defer_rcpt), "450 4.2.0");
    step(&format!("RCPT TO:<{}>", servers.reject_rcpt), "550 5.1.1");
    step(&format!("RCPT TO:<{}>", servers.unknown_rcpt), "554 5.7.1");
    step(&format!("RCPT TO:<{}>", servers.user.user), "250");
    step("DATA", "354");
    step(
        &format!("Subject: harness\r\nMessage-ID: <{message_id}>\r\n\r\nhello\r\n."),
        "250",
    );
    step("QUIT", "221");

    let path = servers
        .wait_for_message(&message_id, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("not delivered: {message_id}\n{}", servers.log_tails(20)));
    assert!(
        path.starts_with(servers.maildir_of(&servers.user.user)),
        "{path:?}"
    );
    let bytes = servers
        .delivered_message(&format!("<{message_id}>"), Duration::from_secs(1))
        .expect("delivered message readable");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Delivered-To: jms1@jms1.net"), "{text}");
    assert!(text.ends_with("\nhello\n"), "{text}");
}
