//! A small SMTP server that misbehaves on demand, for what a real server
//! will not do when asked: a 421 greeting, a silent banner, 451 on MAIL, 550
//! for some recipients, a dropped connection or a stall in DATA, 535 on AUTH,
//! EHLO answered 502 with HELO accepted, odd AUTH offers, a SIZE limit, a
//! stall on one marked message while other sessions are served, and OAuth2
//! logins (XOAUTH2, OAUTHBEARER) that accept some tokens and refuse others
//! with the `334` error JSON of RFC 7628.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use vmail_testkit::fault::{FaultServer, Script};
//! let server = FaultServer::start(Script::new().mail_reply("451 4.3.0 try later")).await?;
//! // ... point the client at 127.0.0.1:server.port() ...
//! assert!(server.commands().iter().any(|c| c.starts_with("MAIL FROM")));
//! # Ok(()) }
//! ```
//!
//! It binds `127.0.0.1:0`, records every line the client sent (AUTH answers
//! included, so that tests can check them) and every message body, and stops
//! when dropped. Every loop is bounded and every read has a deadline.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// No read waits longer than this: a client that went away never keeps a
/// connection task alive for long.
const READ_DEADLINE: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: usize = 100;
const MAX_COMMANDS: usize = 10_000;
const MAX_LINE: u64 = 64 * 1024;
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// The CRAM-MD5 challenge the server sends (RFC 2195's example).
pub const CRAM_CHALLENGE: &str = "<1896.697170952@postoffice.reston.mci.net>";

/// What the server does during DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataBehavior {
    /// Read the message and answer `250 2.0.0 Ok: queued as FAULTn`.
    Accept,
    /// Read the message and answer this (e.g. `554 5.6.0 rejected`).
    Reply(String),
    /// Answer 354, read a little of the message, close the connection.
    Disconnect,
    /// Answer 354, read the whole message, never answer it.
    Stall,
}

/// How the server answers XOAUTH2 and OAUTHBEARER ([`Script::oauth`]).
#[derive(Debug, Clone)]
struct OAuthScript {
    /// Tokens answered with 235.
    accepted: Vec<String>,
    /// The JSON of the `334` error challenge for any other token; empty:
    /// no challenge, `rejection` at once (as Microsoft answers).
    error_json: String,
    /// The final answer to a refused token.
    rejection: String,
    /// Close the connection after that answer.
    close_after_rejection: bool,
}

/// One scenario: how the server answers each step.
#[derive(Debug, Clone)]
pub struct Script {
    /// `None`: never send a banner.
    greeting: Option<String>,
    ehlo_refused: bool,
    extensions: Vec<String>,
    auth_reply: String,
    mail_reply: String,
    rcpt_replies: Vec<(String, String)>,
    data: DataBehavior,
    /// A message whose data contains this text is stalled on, whatever
    /// `data` says for the others.
    stall_marker: Option<String>,
    /// The first this many connections stall on their first message.
    stall_connections: usize,
    /// `None`: XOAUTH2 and OAUTHBEARER are unknown mechanisms (504).
    oauth: Option<OAuthScript>,
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    /// A well-behaved ESMTP server with PIPELINING, 8BITMIME,
    /// ENHANCEDSTATUSCODES and no AUTH.
    pub fn new() -> Script {
        Script {
            greeting: Some("220 fault.test ESMTP".to_string()),
            ehlo_refused: false,
            extensions: ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
                .map(String::from)
                .to_vec(),
            auth_reply: "235 2.7.0 Authentication successful".to_string(),
            mail_reply: "250 2.1.0 Ok".to_string(),
            rcpt_replies: Vec::new(),
            data: DataBehavior::Accept,
            stall_marker: None,
            stall_connections: 0,
            oauth: None,
        }
    }

    /// The greeting, whole (e.g. `421 4.3.2 busy` or a multi-line
    /// `220-a\r\n220 b`).
    pub fn greeting(mut self, greeting: &str) -> Script {
        self.greeting = Some(greeting.to_string());
        self
    }

    /// Accept the connection and say nothing.
    pub fn silent_banner(mut self) -> Script {
        self.greeting = None;
        self
    }

    /// Answer EHLO with 502 and accept HELO.
    pub fn ehlo_refused(mut self) -> Script {
        self.ehlo_refused = true;
        self
    }

    /// The EHLO keywords after the host name (replaces the defaults).
    pub fn extensions(mut self, extensions: &[&str]) -> Script {
        self.extensions = extensions.iter().map(|e| e.to_string()).collect();
        self
    }

    /// The answer to the last step of any AUTH exchange.
    pub fn auth_reply(mut self, reply: &str) -> Script {
        self.auth_reply = reply.to_string();
        self
    }

    pub fn mail_reply(mut self, reply: &str) -> Script {
        self.mail_reply = reply.to_string();
        self
    }

    /// The answer to `RCPT TO` for one address (others get 250).
    pub fn rcpt_reply(mut self, address: &str, reply: &str) -> Script {
        self.rcpt_replies
            .push((address.to_ascii_lowercase(), reply.to_string()));
        self
    }

    pub fn data(mut self, behavior: DataBehavior) -> Script {
        self.data = behavior;
        self
    }

    /// [`DataBehavior::Stall`] for a message whose data contains `marker`
    /// (one session hangs, the others go on as `data` says).
    pub fn stall_message_containing(mut self, marker: &str) -> Script {
        self.stall_marker = Some(marker.to_string());
        self
    }

    /// [`DataBehavior::Stall`] on the first message of each of the first
    /// `n` connections (whatever the message), `data` for the rest.
    pub fn stall_first_connections(mut self, n: usize) -> Script {
        self.stall_connections = n;
        self
    }

    /// Speak XOAUTH2 and OAUTHBEARER (offer them with [`Script::extensions`]):
    /// a token in `accepted` gets `235`; any other gets `334
    /// base64(error_json)`, and after the client's empty response (an empty
    /// line for XOAUTH2, `AQ==` for OAUTHBEARER) `rejection` (e.g. `535
    /// 5.7.8 ...`). An empty `error_json` sends `rejection` at once. A
    /// response that is not the mechanism's format gets `501`, as does a
    /// wrong empty response. The initial response is optional: without it
    /// the server prompts with `334 `.
    pub fn oauth(mut self, accepted: &[&str], error_json: &str, rejection: &str) -> Script {
        self.oauth = Some(OAuthScript {
            accepted: accepted.iter().map(|t| t.to_string()).collect(),
            error_json: error_json.to_string(),
            rejection: rejection.to_string(),
            close_after_rejection: false,
        });
        self
    }

    /// With [`Script::oauth`]: close the connection after refusing a token
    /// (after the final answer), as a server may that allows one try.
    pub fn oauth_close_after_rejection(mut self) -> Script {
        if let Some(oauth) = &mut self.oauth {
            oauth.close_after_rejection = true;
        }
        self
    }
}

/// The bearer token in a decoded XOAUTH2 (`user=..^Aauth=Bearer ..^A^A`) or
/// OAUTHBEARER (`n,a=..,^Ahost=..^Aport=..^Aauth=Bearer ..^A^A`) response;
/// `None` when the response does not have the mechanism's shape.
pub fn bearer_token(mechanism: &str, response: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(response).ok()?;
    let fields = text.strip_suffix("\x01\x01")?;
    let mut parts = fields.split('\x01');
    let first = parts.next()?;
    let shaped = match mechanism.to_ascii_uppercase().as_str() {
        "XOAUTH2" => first.starts_with("user="),
        "OAUTHBEARER" => first.starts_with("n,") && first.ends_with(','),
        _ => false,
    };
    if !shaped {
        return None;
    }
    parts
        .find_map(|part| part.strip_prefix("auth=Bearer "))
        .map(str::to_string)
}

/// What the server saw.
#[derive(Debug, Default)]
struct Record {
    commands: Vec<String>,
    messages: Vec<Vec<u8>>,
    connections: usize,
}

/// The running server; stops when dropped.
pub struct FaultServer {
    port: u16,
    record: Arc<Mutex<Record>>,
    task: JoinHandle<()>,
    /// [`FaultServer::start_implicit_tls`]: the TLS front's accept loop.
    front: Option<JoinHandle<()>>,
}

/// A server certificate for [`FaultServer::start_implicit_tls`], made with
/// rcgen for the names a test wants: self-signed, or issued by a
/// throwaway CA whose PEM a client can trust through `ca-file`.
pub struct TestCertificate {
    chain: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    key_der: Vec<u8>,
    /// The PEM a client trusts: the CA's, or the certificate itself when
    /// self-signed (pinning it).
    pub trust_pem: String,
}

impl TestCertificate {
    /// A self-signed certificate for `names` (CN the first name).
    pub fn self_signed(names: &[&str]) -> Result<TestCertificate, rcgen::Error> {
        let key = rcgen::KeyPair::generate()?;
        let params = leaf_params(names)?;
        let cert = params.self_signed(&key)?;
        Ok(TestCertificate {
            chain: vec![cert.der().clone()],
            key_der: key.serialize_der(),
            trust_pem: cert.pem(),
        })
    }

    /// A certificate for `names` issued by a fresh CA ("vmail fault test CA").
    pub fn from_test_ca(names: &[&str]) -> Result<TestCertificate, rcgen::Error> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyUsagePurpose};
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "vmail fault test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate()?;
        let cert = leaf_params(names)?.signed_by(&key, &issuer)?;
        Ok(TestCertificate {
            chain: vec![cert.der().clone(), ca_cert.der().clone()],
            key_der: key.serialize_der(),
            trust_pem: ca_cert.pem(),
        })
    }

    fn acceptor(&self) -> io::Result<tokio_rustls::TlsAcceptor> {
        use tokio_rustls::rustls::ServerConfig;
        use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .map_err(io::Error::other)?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

fn leaf_params(names: &[&str]) -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, *first);
    }
    Ok(params)
}

impl FaultServer {
    /// Binds 127.0.0.1 on a free port and serves `script` to every
    /// connection.
    pub async fn start(script: Script) -> io::Result<FaultServer> {
        FaultServer::start_on(script, 0).await
    }

    /// [`FaultServer::start`] on `port` of 127.0.0.1 (0: any free one): a
    /// server that comes back where a client's list of servers names it.
    pub async fn start_on(script: Script, port: u16) -> io::Result<FaultServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let record = Arc::new(Mutex::new(Record::default()));
        let task = tokio::spawn(accept_loop(listener, Arc::new(script), record.clone()));
        Ok(FaultServer {
            port,
            record,
            task,
            front: None,
        })
    }

    /// `script` behind TLS from the first byte (a port 465), with `cert`:
    /// a TLS front on its own port that hands each connection, decrypted,
    /// to the scripted server. [`FaultServer::port`] is the front's.
    pub async fn start_implicit_tls(
        script: Script,
        cert: &TestCertificate,
    ) -> io::Result<FaultServer> {
        let mut inner = FaultServer::start(script).await?;
        let acceptor = cert.acceptor()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let backend = inner.port;
        inner.front = Some(tokio::spawn(tls_front(listener, acceptor, backend)));
        inner.port = port;
        Ok(inner)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every line the client sent outside DATA, in order, as sent.
    pub fn commands(&self) -> Vec<String> {
        self.record
            .lock()
            .map(|r| r.commands.clone())
            .unwrap_or_default()
    }

    /// The bodies received (as on the wire, dot-stuffed, without the final
    /// dot line).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.record
            .lock()
            .map(|r| r.messages.clone())
            .unwrap_or_default()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.record.lock().map(|r| r.connections).unwrap_or(0)
    }

    /// Whether the client sent a command starting with `verb` (any case).
    pub fn received(&self, verb: &str) -> bool {
        let verb = verb.to_ascii_uppercase();
        self.commands()
            .iter()
            .any(|c| c.to_ascii_uppercase().starts_with(&verb))
    }
}

impl FaultServer {
    /// Stops the server now (dropping it does the same).
    pub fn stop(self) {}
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every
        // connection task.
        self.task.abort();
        if let Some(front) = &self.front {
            front.abort();
        }
    }
}

/// Accepts TLS and relays each connection to the plain server on
/// `backend`; a failed handshake (a client that gave up) ends only that
/// connection.
async fn tls_front(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, backend: u16) {
    let mut connections = tokio::task::JoinSet::new();
    for _ in 0..MAX_CONNECTIONS {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            let Ok(mut plain) = TcpStream::connect(("127.0.0.1", backend)).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
        });
    }
    while connections.join_next().await.is_some() {}
}

async fn accept_loop(listener: TcpListener, script: Arc<Script>, record: Arc<Mutex<Record>>) {
    let mut connections = tokio::task::JoinSet::new();
    for _ in 0..MAX_CONNECTIONS {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let number = match record.lock() {
            Ok(mut r) => {
                r.connections += 1;
                r.connections
            }
            Err(_) => 0,
        };
        let (script, record) = (script.clone(), record.clone());
        connections.spawn(async move {
            let _ = Connection::new(stream, script, record, number)
                .serve()
                .await;
        });
    }
    while connections.join_next().await.is_some() {}
}

struct Connection {
    stream: BufReader<TcpStream>,
    script: Arc<Script>,
    record: Arc<Mutex<Record>>,
    accepted_rcpts: usize,
    queued: usize,
    /// 1 for the first connection accepted.
    number: usize,
    /// Messages whose data was read on this connection.
    bodies: usize,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "fault server: client silent")
}

impl Connection {
    fn new(
        stream: TcpStream,
        script: Arc<Script>,
        record: Arc<Mutex<Record>>,
        number: usize,
    ) -> Connection {
        Connection {
            stream: BufReader::new(stream),
            script,
            record,
            accepted_rcpts: 0,
            queued: 0,
            number,
            bodies: 0,
        }
    }

    async fn serve(mut self) -> io::Result<()> {
        let Some(greeting) = self.script.greeting.clone() else {
            // Silent: wait for the client to give up (bounded by the deadline).
            while self.read_line().await.is_ok_and(|line| line.is_some()) {}
            return Ok(());
        };
        self.reply(&greeting).await?;
        if !greeting.starts_with("220") {
            return Ok(());
        }
        for _ in 0..MAX_COMMANDS {
            let Some(line) = self.read_command().await? else {
                return Ok(());
            };
            if !self.dispatch(&line).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Answers one command; `false` ends the connection.
    async fn dispatch(&mut self, line: &str) -> io::Result<bool> {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or("");
        match verb {
            "EHLO" if self.script.ehlo_refused => {
                self.reply("502 5.5.2 Error: command not recognized")
                    .await?
            }
            "EHLO" => self.ehlo().await?,
            "HELO" => self.reply("250 fault.test").await?,
            "AUTH" => {
                if !self.auth(line).await? {
                    return Ok(false);
                }
            }
            "MAIL" => {
                self.accepted_rcpts = 0;
                let reply = self.script.mail_reply.clone();
                self.reply(&reply).await?;
            }
            "RCPT" => self.rcpt(&upper).await?,
            "DATA" => return self.data().await,
            "RSET" => {
                self.accepted_rcpts = 0;
                self.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => self.reply("250 2.0.0 Ok").await?,
            "STARTTLS" => self.reply("454 4.7.0 TLS not available").await?,
            "QUIT" => {
                self.reply("221 2.0.0 Bye").await?;
                return Ok(false);
            }
            _ => {
                self.reply("502 5.5.2 Error: command not recognized")
                    .await?
            }
        }
        Ok(true)
    }

    async fn ehlo(&mut self) -> io::Result<()> {
        let mut lines = vec!["fault.test".to_string()];
        lines.extend(self.script.extensions.iter().cloned());
        let last = lines.len() - 1;
        let text: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect();
        self.reply(&text.join("\r\n")).await
    }

    /// One AUTH exchange; `false` ends the connection.
    async fn auth(&mut self, line: &str) -> io::Result<bool> {
        let upper = line.to_ascii_uppercase();
        let mut words = upper.split(' ').skip(1);
        let mechanism = words.next().unwrap_or("");
        let initial = words.next();
        if matches!(mechanism, "XOAUTH2" | "OAUTHBEARER")
            && let Some(oauth) = self.script.oauth.clone()
        {
            // The initial response as sent: base64 is case-sensitive.
            let initial = line.split(' ').nth(2).map(str::to_string);
            let refused = self.oauth(mechanism, initial, &oauth).await?;
            return Ok(!(refused && oauth.close_after_rejection));
        }
        self.password_auth(mechanism, initial).await?;
        Ok(true)
    }

    async fn password_auth(&mut self, mechanism: &str, initial: Option<&str>) -> io::Result<()> {
        let prompts: Vec<String> = match (mechanism, initial) {
            ("PLAIN", Some(_)) => vec![],
            ("PLAIN", None) => vec!["334 ".to_string()],
            ("LOGIN", _) => vec!["334 VXNlcm5hbWU6".into(), "334 UGFzc3dvcmQ6".into()],
            ("CRAM-MD5", _) => vec![format!("334 {}", BASE64.encode(CRAM_CHALLENGE))],
            _ => {
                return self
                    .reply("504 5.5.4 Unrecognized authentication type")
                    .await;
            }
        };
        for prompt in prompts {
            self.reply(&prompt).await?;
            match self.read_command().await? {
                Some(answer) if answer != "*" => {}
                _ => return self.reply("501 5.7.0 Authentication cancelled").await,
            }
        }
        let reply = self.script.auth_reply.clone();
        self.reply(&reply).await
    }

    /// One XOAUTH2 or OAUTHBEARER exchange per [`Script::oauth`]; `true`
    /// when a token was refused with the script's rejection.
    async fn oauth(
        &mut self,
        mechanism: &str,
        initial: Option<String>,
        script: &OAuthScript,
    ) -> io::Result<bool> {
        let response = match initial {
            Some(response) => response,
            None => {
                self.reply("334 ").await?;
                match self.read_command().await? {
                    Some(response) if response != "*" => response,
                    _ => {
                        self.reply("501 5.7.0 Authentication cancelled").await?;
                        return Ok(false);
                    }
                }
            }
        };
        let decoded = BASE64.decode(response.as_bytes()).unwrap_or_default();
        let Some(token) = bearer_token(mechanism, &decoded) else {
            self.reply("501 5.5.2 malformed OAuth2 initial response")
                .await?;
            return Ok(false);
        };
        if script.accepted.contains(&token) {
            self.reply("235 2.7.0 Authentication successful").await?;
            return Ok(false);
        }
        if script.error_json.is_empty() {
            self.reply(&script.rejection).await?;
            return Ok(true);
        }
        self.reply(&format!("334 {}", BASE64.encode(&script.error_json)))
            .await?;
        let empty = if mechanism == "OAUTHBEARER" {
            "AQ=="
        } else {
            ""
        };
        match self.read_command().await? {
            Some(answer) if answer == empty => {
                self.reply(&script.rejection).await?;
                Ok(true)
            }
            _ => {
                self.reply("501 5.5.4 expected the empty response to the error challenge")
                    .await?;
                Ok(false)
            }
        }
    }

    async fn rcpt(&mut self, upper: &str) -> io::Result<()> {
        let lower = upper.to_ascii_lowercase();
        let scripted = self
            .script
            .rcpt_replies
            .iter()
            .find(|(address, _)| lower.contains(&format!("<{address}>")))
            .map(|(_, reply)| reply.clone());
        let reply = scripted.unwrap_or_else(|| "250 2.1.5 Ok".to_string());
        if reply.starts_with('2') {
            self.accepted_rcpts += 1;
        }
        self.reply(&reply).await
    }

    /// DATA per the script; `false` ends the connection.
    async fn data(&mut self) -> io::Result<bool> {
        if self.accepted_rcpts == 0 {
            self.reply("554 5.5.1 Error: no valid recipients").await?;
            return Ok(true);
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        if self.script.data == DataBehavior::Disconnect {
            let mut some = [0u8; 16];
            let _ = tokio::time::timeout(READ_DEADLINE, self.stream.read(&mut some)).await;
            return Ok(false);
        }
        let body = self.read_body().await?;
        self.bodies += 1;
        let marked = self
            .script
            .stall_marker
            .as_ref()
            .is_some_and(|marker| contains(&body, marker.as_bytes()));
        let stall = marked
            || (self.bodies == 1 && (1..=self.script.stall_connections).contains(&self.number));
        if let Ok(mut r) = self.record.lock() {
            r.messages.push(body);
        }
        let behavior = if stall {
            DataBehavior::Stall
        } else {
            self.script.data.clone()
        };
        match behavior {
            DataBehavior::Accept => {
                self.queued += 1;
                let reply = format!("250 2.0.0 Ok: queued as FAULT{}", self.queued);
                self.reply(&reply).await?;
            }
            DataBehavior::Reply(reply) => self.reply(&reply).await?,
            DataBehavior::Stall => {
                // Never answer; wait for the client to give up.
                while self.read_line().await.is_ok_and(|line| line.is_some()) {}
                return Ok(false);
            }
            DataBehavior::Disconnect => return Ok(false),
        }
        Ok(true)
    }

    async fn read_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        while body.len() < MAX_MESSAGE {
            let mut line = Vec::new();
            let mut limited = (&mut self.stream).take(MAX_LINE);
            let read = limited.read_until(b'\n', &mut line);
            let n = tokio::time::timeout(READ_DEADLINE, read)
                .await
                .map_err(|_| timed_out())??;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if line == b".\r\n" {
                return Ok(body);
            }
            body.extend_from_slice(&line);
        }
        Err(io::Error::other("fault server: message too large"))
    }

    /// A line without its line end, recorded; `None` at EOF.
    async fn read_command(&mut self) -> io::Result<Option<String>> {
        let line = self.read_line().await?;
        if let (Some(line), Ok(mut r)) = (&line, self.record.lock()) {
            r.commands.push(line.clone());
        }
        Ok(line)
    }

    async fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut line = Vec::new();
        let mut limited = (&mut self.stream).take(MAX_LINE);
        let read = limited.read_until(b'\n', &mut line);
        let n = tokio::time::timeout(READ_DEADLINE, read)
            .await
            .map_err(|_| timed_out())??;
        if n == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        let stream = self.stream.get_mut();
        stream.write_all(text.as_bytes()).await?;
        stream.write_all(b"\r\n").await?;
        stream.flush().await
    }
}
