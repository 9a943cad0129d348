//! A minimal token endpoint on `http://127.0.0.1:0` (loopback http is what
//! vmail allows for tests): it parses each form POST, counts requests, and
//! answers what the test's handler says. It stands in until the real token
//! service of `vmail-testkit` lands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub form: HashMap<String, String>,
    /// The raw request, headers and body, for searches.
    pub raw: String,
}

impl Request {
    pub fn get(&self, name: &str) -> &str {
        self.form.get(name).map_or("", String::as_str)
    }
}

/// What the handler answers.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn json(status: u16, body: serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    pub fn token(access: &str, expires_in: u64, refresh: Option<&str>) -> Response {
        let mut body = serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": expires_in,
        });
        if let Some(refresh) = refresh {
            body["refresh_token"] = refresh.into();
        }
        Response::json(200, body)
    }

    pub fn error(status: u16, code: &str, description: &str) -> Response {
        Response::json(
            status,
            serde_json::json!({"error": code, "error_description": description}),
        )
    }
}

type Handler = Box<dyn Fn(&Request, usize) -> Response + Send + Sync>;

pub struct TokenServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
    /// When set, each request waits for a permit before it is answered.
    gate: Option<Arc<Semaphore>>,
    scheme: &'static str,
}

impl TokenServer {
    /// Serves `handler` (given the request and its number, from 1).
    pub async fn start(
        handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
    ) -> TokenServer {
        TokenServer::start_with_gate(handler, None).await
    }

    /// Like `start`, but answers only as `release` hands out permits.
    pub async fn start_gated(
        handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
    ) -> TokenServer {
        TokenServer::start_with_gate(handler, Some(Arc::new(Semaphore::new(0)))).await
    }

    /// Like `start`, over TLS with a certificate for 127.0.0.1 from a fresh
    /// CA, whose PEM is returned.
    pub async fn start_tls(
        handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
    ) -> (TokenServer, String) {
        let (acceptor, ca_pem) = test_tls();
        let mut server = TokenServer::spawn(handler, None, Some(acceptor)).await;
        server.scheme = "https";
        (server, ca_pem)
    }

    async fn start_with_gate(
        handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
        gate: Option<Arc<Semaphore>>,
    ) -> TokenServer {
        TokenServer::spawn(handler, gate, None).await
    }

    async fn spawn(
        handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
        gate: Option<Arc<Semaphore>>,
        tls: Option<TlsAcceptor>,
    ) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(Box::new(handler));
        let (seen2, gate2) = (seen.clone(), gate.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, handler, gate) = (seen2.clone(), handler.clone(), gate2.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = serve(stream, seen, handler, gate).await;
                            }
                        }
                        None => {
                            let _ = serve(stream, seen, handler, gate).await;
                        }
                    }
                });
            }
        });
        TokenServer {
            addr,
            seen,
            gate,
            scheme: "http",
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn release(&self, n: usize) {
        if let Some(gate) = &self.gate {
            gate.add_permits(n);
        }
    }

    /// Waits (bounded) until the server has seen `n` requests.
    pub async fn wait_for_requests(&self, n: usize) {
        let what = format!("the token server to see {n} requests");
        vmail_testkit::process::wait_until(&what, Duration::from_secs(10), || self.count() >= n)
            .await;
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    seen: Arc<Mutex<Vec<Request>>>,
    handler: Arc<Handler>,
    gate: Option<Arc<Semaphore>>,
) -> std::io::Result<()> {
    loop {
        let Some(request) = read_request(&mut stream).await? else {
            return Ok(());
        };
        let number = {
            let mut seen = seen.lock().unwrap();
            seen.push(request.clone());
            seen.len()
        };
        if let Some(gate) = &gate {
            gate.acquire().await.unwrap().forget();
        }
        let response = handler(&request, number);
        let text = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}",
            response.status,
            response.content_type,
            response.body.len(),
            response.body
        );
        stream.write_all(text.as_bytes()).await?;
    }
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let form = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    Ok(Some(Request {
        path,
        form,
        raw: format!("{head}{body}"),
    }))
}

/// A CA, and a server certificate for 127.0.0.1 that it signed.
fn test_tls() -> (TlsAcceptor, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "vmail-oauth test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), ca.pem())
}
