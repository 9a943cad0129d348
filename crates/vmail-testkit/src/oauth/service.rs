//! The in-process service ([`TokenService`]): its own thread and tokio
//! runtime, so that sync and async tests alike can start it, and dropping
//! it stops it. Also the TLS setup shared with the binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::client::TokenServiceClient;
use super::error::ServiceError;
use super::server::{self, Shared};
use super::types::{ClientSpec, Counters, Fault};
use super::{ServiceUrls, TokenServiceControl};

/// How the service serves HTTPS.
#[derive(Debug, Clone)]
pub enum TlsSetup {
    /// A throwaway CA and a certificate for `127.0.0.1` and `localhost`,
    /// made at start; [`TokenService::ca_pem`] gives the CA to trust.
    Generated,
    /// PEM files: the certificate chain, its key, and the CA that issued it
    /// (what start.sh makes with the test CA).
    Files {
        cert: PathBuf,
        key: PathBuf,
        ca: PathBuf,
    },
    /// Plain HTTP (for a client test of the loopback `http://` exception).
    PlainHttp,
}

#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// `127.0.0.1:0` by default: a free port, loopback only.
    pub listen: SocketAddr,
    pub tls: TlsSetup,
    /// One line per request on stderr (the binary does; tests would only
    /// clutter their output).
    pub log_requests: bool,
}

impl Default for ServiceOptions {
    fn default() -> ServiceOptions {
        ServiceOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: TlsSetup::Generated,
            log_requests: false,
        }
    }
}

/// A running token service in this process. Stopped when dropped.
pub struct TokenService {
    shared: Arc<Shared>,
    urls: ServiceUrls,
    ca_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("url", &self.urls.base())
            .finish()
    }
}

impl TokenService {
    /// HTTPS on a free loopback port with a throwaway CA.
    pub fn start() -> Result<TokenService, ServiceError> {
        TokenService::start_with(ServiceOptions::default())
    }

    pub fn start_with(options: ServiceOptions) -> Result<TokenService, ServiceError> {
        let (tls, ca_pem) = tls_config(&options.tls)?;
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| ServiceError::Io { what, source }
        };
        let listener = std::net::TcpListener::bind(options.listen)
            .map_err(io(&format!("bind the token service to {}", options.listen)))?;
        listener
            .set_nonblocking(true)
            .map_err(io("set_nonblocking"))?;
        let addr = listener.local_addr().map_err(io("local_addr"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let urls = ServiceUrls::new(format!("{scheme}://{addr}"));
        let shared = Arc::new(Shared::new(urls.base().to_owned(), options.log_requests));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io("token service runtime"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("token-service".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            let shutdown = async move {
                                let _ = stopped.await;
                            };
                            server::run(listener, tls, task_shared, shutdown).await;
                        }
                        Err(e) => eprintln!("token service: {e}"),
                    }
                });
            })
            .map_err(io("token service thread"))?;
        Ok(TokenService {
            shared,
            urls,
            ca_pem,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn urls(&self) -> &ServiceUrls {
        &self.urls
    }

    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        self.urls.base()
    }

    /// PEM of the CA that issued the service's certificate (`None` over
    /// plain HTTP): what a client under test must trust (`ca-file`).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A blocking HTTP client of this service (token requests, control).
    pub fn client(&self) -> Result<TokenServiceClient, ServiceError> {
        TokenServiceClient::new(self.urls.base(), self.ca_pem.as_deref().map(str::as_bytes))
    }

    /// Introspections of tokens the service never issued.
    pub fn unknown_introspections(&self) -> u64 {
        self.shared.registry().unknown_introspections
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl TokenServiceControl for TokenService {
    fn register_client(&self, spec: &ClientSpec) -> Result<(), ServiceError> {
        self.shared.registry().register(spec.clone())
    }
    fn revoke_client(&self, client_id: &str) -> Result<(), ServiceError> {
        self.shared.registry().revoke_client(client_id)
    }
    fn reinstate_client(&self, client_id: &str) -> Result<(), ServiceError> {
        self.shared.registry().reinstate(client_id)
    }
    fn revoke_tokens(&self, client_id: &str) -> Result<(), ServiceError> {
        self.shared.registry().revoke_tokens(client_id)
    }
    fn expire_tokens(&self, client_id: &str) -> Result<(), ServiceError> {
        self.shared
            .registry()
            .expire_tokens(client_id, Instant::now())
    }
    fn issue_refresh_token(&self, client_id: &str) -> Result<String, ServiceError> {
        self.shared.registry().issue_refresh_token(client_id)
    }
    fn approve_device(
        &self,
        client_id: &str,
        user_code: Option<&str>,
    ) -> Result<usize, ServiceError> {
        self.shared
            .registry()
            .decide_device(client_id, user_code, true)
    }
    fn deny_device(&self, client_id: &str, user_code: Option<&str>) -> Result<usize, ServiceError> {
        self.shared
            .registry()
            .decide_device(client_id, user_code, false)
    }
    fn pending_user_codes(&self, client_id: &str) -> Result<Vec<String>, ServiceError> {
        self.shared.registry().pending_user_codes(client_id)
    }
    fn slow_down_next_poll(&self, client_id: &str) -> Result<(), ServiceError> {
        self.shared.registry().slow_down_next_poll(client_id)
    }
    fn set_fault(&self, client_id: &str, fault: &Fault) -> Result<(), ServiceError> {
        self.shared
            .registry()
            .set_fault(client_id, Some(fault.clone()), Instant::now())
    }
    fn clear_fault(&self, client_id: &str) -> Result<(), ServiceError> {
        self.shared
            .registry()
            .set_fault(client_id, None, Instant::now())
    }
    fn deny_introspection(&self, client_id: &str, deny: bool) -> Result<(), ServiceError> {
        self.shared.registry().deny_introspection(client_id, deny)
    }
    fn counters(&self, client_id: &str) -> Result<Counters, ServiceError> {
        self.shared.registry().counters(client_id)
    }
    fn refuse_connections(&self, duration: Duration) -> Result<(), ServiceError> {
        self.shared
            .refuse_until
            .send_replace(Some(Instant::now() + duration));
        Ok(())
    }
}

/// The rustls acceptor (none for plain HTTP) and the PEM of the CA to trust.
pub(crate) fn tls_config(
    setup: &TlsSetup,
) -> Result<(Option<TlsAcceptor>, Option<String>), ServiceError> {
    let (chain, key, ca_pem) = match setup {
        TlsSetup::PlainHttp => return Ok((None, None)),
        TlsSetup::Generated => generated_certificate()?,
        TlsSetup::Files { cert, key, ca } => {
            let chain = CertificateDer::pem_slice_iter(&read(cert)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ServiceError::Tls(format!("{}: {e}", cert.display())))?;
            let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|e| ServiceError::Tls(format!("{}: {e}", key.display())))?;
            let ca_pem = String::from_utf8_lossy(&read(ca)?).into_owned();
            (chain, key_der, ca_pem)
        }
    };
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServiceError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServiceError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Some(TlsAcceptor::from(Arc::new(config))), Some(ca_pem)))
}

fn read(path: &Path) -> Result<Vec<u8>, ServiceError> {
    std::fs::read(path).map_err(|source| ServiceError::Io {
        what: format!("read {}", path.display()),
        source,
    })
}

type Material = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

/// A throwaway CA and a server certificate it issued for 127.0.0.1 and
/// localhost (ECDSA P-256), so that a client test verifies the chain the
/// way it would in production instead of turning verification off.
fn generated_certificate() -> Result<Material, ServiceError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let tls = |e: rcgen::Error| ServiceError::Tls(e.to_string());
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "vmail token service test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().map_err(tls)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(tls)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(tls)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((
        vec![leaf_cert.der().clone(), ca_cert.der().clone()],
        key,
        ca_cert.pem(),
    ))
}
