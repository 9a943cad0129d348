//! TLS for SMTP, implicit or after STARTTLS, and for POP3S: rustls with the
//! ring provider, the system roots plus `ca-file`, and a verifier that
//! records what it saw so that a report can show the certificate and the
//! verdict (even when `tls-verify=no` keeps the verdict from being enforced).
//!
//! `tls-fingerprint` pins replace the CA check for the SMTP server: its
//! certificate is accepted when its SHA-256 is one of the pins, whoever
//! issued it, for whatever name and dates (the pin names that very
//! certificate), and refused otherwise even when a CA vouches for it. The
//! handshake signature is still checked against the certificate's key, so
//! only the holder of that key passes. `tls-cert-file`/`tls-key-file` are
//! presented when the server asks for a client certificate;
//! `tls-min-version` sets the oldest protocol offered. POP3S (a
//! POP-before-SMTP server, often another host) gets neither the pins nor
//! the client certificate: it is verified by the CA chain.

use crate::conn::timed_out;
use crate::error::{SmtpError, Step, TlsSetupError};
use crate::transcript::Transcript;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::version::{TLS12, TLS13};
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
    SupportedProtocolVersion,
};
use vmail_core::{ClientCertificate, Fingerprint, SmtpSettings, TlsVersion};

/// The peer's certificate and what verification said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerCertificate {
    pub subject: String,
    pub issuer: String,
    /// The end of validity, as written in the certificate (UTC).
    pub not_after: String,
    /// `Ok(())` when the chain and name verified; rustls's reason
    /// otherwise (its text is what an administrator reads).
    pub verification: Result<(), tokio_rustls::rustls::Error>,
    /// What decided whether the certificate was accepted.
    pub check: CertificateCheck,
    /// SHA-256 of the certificate, as `tls-fingerprint` takes it.
    pub fingerprint: Fingerprint,
    /// The names the certificate is valid for (its subjectAltName DNS
    /// names and IP addresses), so that a wrong `mail-server` can be told
    /// which name to use.
    pub names: Vec<String>,
    /// Issued by itself (issuer and subject are the same name): no CA
    /// vouches for it, and only `ca-file` holding this very certificate
    /// (pinning it) makes it verify.
    pub self_signed: bool,
}

/// What decided whether a certificate was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateCheck {
    /// The CA chain, the name and the dates: `verification` decided.
    Chain,
    /// `tls-fingerprint`: the certificate had to be one of the pins;
    /// `verification` was recorded, not enforced.
    Pin { matched: bool },
    /// `tls-verify=no`: nothing was enforced.
    Off,
    /// A look-only connection (`vfxadmin check`'s second one): the
    /// certificate was fetched without enforcing any check, to show it.
    LookOnly,
}

impl PeerCertificate {
    /// Whether the handshake went on with this certificate because a
    /// check passed (not because checks were off).
    pub fn trusted(&self) -> bool {
        match self.check {
            CertificateCheck::Chain => self.verification.is_ok(),
            CertificateCheck::Pin { matched } => matched,
            CertificateCheck::Off | CertificateCheck::LookOnly => false,
        }
    }
}

/// Why a certificate did not verify, in the terms an administrator fixes
/// it by (rustls's error names the check that failed, e.g. `UnknownIssuer`
/// or `BadSignature` for a self-signed certificate, not the fix).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CertificateProblem<'a> {
    /// Self-signed: trust it by putting it in `ca-file`.
    SelfSigned,
    /// Valid, but for other names: `mail-server` should be one of them.
    WrongName {
        names: &'a [String],
    },
    Expired,
    NotYetValid,
    /// Issued by a CA that is neither in the system store nor in `ca-file`.
    UnknownIssuer,
    /// Anything else: rustls's own words.
    Other(&'a Error),
}

impl PeerCertificate {
    /// What is wrong with the certificate, `None` when it verified.
    /// Self-signed comes first: whichever check webpki failed on it
    /// (`UnknownIssuer`, `BadSignature`), the fix is the same.
    pub fn problem(&self) -> Option<CertificateProblem<'_>> {
        use tokio_rustls::rustls::CertificateError as E;
        let Err(error) = &self.verification else {
            return None;
        };
        if self.self_signed {
            return Some(CertificateProblem::SelfSigned);
        }
        Some(match error {
            Error::InvalidCertificate(E::NotValidForName | E::NotValidForNameContext { .. }) => {
                CertificateProblem::WrongName { names: &self.names }
            }
            Error::InvalidCertificate(E::Expired | E::ExpiredContext { .. }) => {
                CertificateProblem::Expired
            }
            Error::InvalidCertificate(E::NotValidYet | E::NotValidYetContext { .. }) => {
                CertificateProblem::NotYetValid
            }
            Error::InvalidCertificate(E::UnknownIssuer) => CertificateProblem::UnknownIssuer,
            other => CertificateProblem::Other(other),
        })
    }
}

/// Short words for a log line; `vfxadmin check` adds the fix.
impl std::fmt::Display for CertificateProblem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateProblem::SelfSigned => write!(f, "self-signed"),
            CertificateProblem::WrongName { names: [] } => {
                write!(f, "issued for other names (it lists none)")
            }
            CertificateProblem::WrongName { names } => {
                write!(f, "issued for other names: {}", names.join(", "))
            }
            CertificateProblem::Expired => write!(f, "expired"),
            CertificateProblem::NotYetValid => write!(f, "not yet valid"),
            CertificateProblem::UnknownIssuer => write!(f, "issued by an unknown CA"),
            CertificateProblem::Other(error) => write!(f, "{error}"),
        }
    }
}

/// What a TLS connection ended up with.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsInfo {
    pub protocol: String,
    pub cipher: String,
    pub peer: Option<PeerCertificate>,
}

/// Trust anchors, pins, client certificate and provider, built once per
/// submitter.
#[derive(Debug)]
pub(crate) struct TlsContext {
    provider: Arc<CryptoProvider>,
    webpki: Arc<WebPkiServerVerifier>,
    /// How the certificate is checked when neither pins nor a look-only
    /// connection decide: `Chain`, or `Off` with `tls-verify=no`.
    verify: CertificateCheck,
    look_only: bool,
    pins: Vec<Fingerprint>,
    client: Option<ClientIdentity>,
    versions: &'static [&'static SupportedProtocolVersion],
}

/// The client certificate chain and its key, loaded once.
#[derive(Debug)]
struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Clone for TlsContext {
    fn clone(&self) -> Self {
        TlsContext {
            provider: self.provider.clone(),
            webpki: self.webpki.clone(),
            verify: self.verify,
            look_only: self.look_only,
            pins: self.pins.clone(),
            client: self.client.clone(),
            versions: self.versions,
        }
    }
}

static TLS12_AND_UP: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&TLS13];

impl TlsContext {
    /// Loads the system roots and `ca-file`. An unreadable or empty
    /// `ca-file` is an error; unreadable system roots are not (a private CA
    /// may be all there is).
    pub fn new(settings: &SmtpSettings) -> Result<TlsContext, TlsSetupError> {
        let provider = Arc::new(ring::default_provider());
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| TlsSetupError::CaFileUnreadable {
                path: path.clone(),
                error: Arc::new(e),
            })?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| TlsSetupError::CaFileUnparsable {
                    path: path.clone(),
                    pem: format!("{e:?}"),
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsSetupError::CaFileEmpty { path: path.clone() });
            }
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsSetupError::NoTrustAnchors {
                webpki: e.to_string(),
            })?;
        let versions = match settings.tls_min_version {
            TlsVersion::V1_2 => TLS12_AND_UP,
            TlsVersion::V1_3 => TLS13_ONLY,
        };
        let client = match &settings.client_certificate {
            Some(files) => Some(load_client_identity(files, &provider, versions)?),
            None => None,
        };
        Ok(TlsContext {
            provider,
            webpki,
            verify: if settings.tls_verify {
                CertificateCheck::Chain
            } else {
                CertificateCheck::Off
            },
            look_only: false,
            pins: settings.tls_fingerprints.clone(),
            client,
            versions,
        })
    }

    /// For a connection that only looks: the certificate is fetched and
    /// shown, never enforced (neither chain nor pins).
    pub fn look_only(mut self) -> TlsContext {
        self.look_only = true;
        self
    }

    /// For POP3S: the CA chain (or `tls-verify=no`) decides; the SMTP
    /// server's pins and the client certificate are not for it.
    pub fn for_pop(&self) -> TlsContext {
        TlsContext {
            pins: Vec::new(),
            client: None,
            ..self.clone()
        }
    }

    /// Runs the TLS handshake over `tcp`, within `timeout`.
    pub async fn handshake(
        &self,
        host: &str,
        tcp: TcpStream,
        timeout: Duration,
        transcript: &mut Transcript,
    ) -> Result<(TlsStream<TcpStream>, TlsInfo), SmtpError> {
        let tls_error = |detail: String| SmtpError::Tls {
            host: host.to_string(),
            detail,
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| tls_error(format!("`{host}` is not a valid TLS server name: {e}")))?;
        let seen = Arc::new(Mutex::new(None));
        let check = match (self.look_only, self.pins.is_empty()) {
            (true, _) => CertificateCheck::LookOnly,
            (false, false) => CertificateCheck::Pin { matched: false },
            (false, true) => self.verify,
        };
        let verifier = Arc::new(Recorder {
            webpki: self.webpki.clone(),
            check,
            pins: self.pins.clone(),
            seen: seen.clone(),
        });
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(self.versions)
            .map_err(|e| tls_error(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.client {
            Some(identity) => builder
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                .map_err(|e| tls_error(format!("the client certificate: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        match check {
            CertificateCheck::Off => transcript.warn(
                "tls-verify=no: the server's certificate is NOT verified; anyone on the path \
                 can read the login and the mail",
            ),
            CertificateCheck::LookOnly => transcript.note(
                "look-only connection: the server's certificate is fetched without verifying \
                 it, to show it",
            ),
            CertificateCheck::Chain | CertificateCheck::Pin { .. } => {}
        }
        let connect = TlsConnector::from(Arc::new(config)).connect(name, tcp);
        let result = tokio::time::timeout(timeout, connect).await;
        let peer = seen.lock().ok().and_then(|mut slot| slot.take());
        let stream = match result {
            Err(_) => return Err(timed_out(Step::TlsHandshake, timeout)),
            Ok(Err(e)) => return Err(tls_error(handshake_failure(&e, peer.as_ref()))),
            Ok(Ok(stream)) => stream,
        };
        let info = describe(&stream, peer);
        note(transcript, &info);
        Ok((stream, info))
    }
}

fn handshake_failure(error: &std::io::Error, peer: Option<&PeerCertificate>) -> String {
    match peer {
        Some(
            peer @ PeerCertificate {
                check: CertificateCheck::Pin { matched: false },
                ..
            },
        ) => format!(
            "the server's certificate has the fingerprint {}, which is not in [VMAIL] \
             tls-fingerprint (certificate subject: {}, issuer: {}, valid until {}); if the \
             server's certificate was changed on purpose, add that fingerprint to \
             tls-fingerprint",
            peer.fingerprint, peer.subject, peer.issuer, peer.not_after
        ),
        Some(peer) => format!(
            "{error} (certificate subject: {}, issuer: {}, valid until {})",
            peer.subject, peer.issuer, peer.not_after
        ),
        None => error.to_string(),
    }
}

fn describe(stream: &TlsStream<TcpStream>, peer: Option<PeerCertificate>) -> TlsInfo {
    let (_, connection) = stream.get_ref();
    TlsInfo {
        protocol: connection
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        cipher: connection
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        peer,
    }
}

fn note(transcript: &mut Transcript, info: &TlsInfo) {
    transcript.note(format!(
        "TLS established: {} {}",
        info.protocol, info.cipher
    ));
    if let Some(peer) = &info.peer {
        let chain = match &peer.verification {
            Ok(()) => "verified".to_string(),
            Err(why) => format!("NOT verified ({why})"),
        };
        let verdict = match peer.check {
            CertificateCheck::Chain => chain,
            CertificateCheck::Pin { matched: true } => {
                format!("pinned: its fingerprint is in tls-fingerprint (CA check: {chain})")
            }
            CertificateCheck::Pin { matched: false } => {
                "NOT pinned: its fingerprint is not in tls-fingerprint".to_string()
            }
            CertificateCheck::Off => format!("{chain}; accepted because tls-verify=no"),
            CertificateCheck::LookOnly => {
                format!("{chain}; fetched without verifying it, to show it")
            }
        };
        transcript.note(format!(
            "certificate: subject {}; issuer {}; valid until {}; {}; {verdict}",
            peer.subject, peer.issuer, peer.not_after, peer.fingerprint
        ));
    }
}

/// Reads `tls-cert-file` and `tls-key-file`, refusing a key that group or
/// others may read, and checks with rustls that they fit together.
fn load_client_identity(
    files: &ClientCertificate,
    provider: &Arc<CryptoProvider>,
    versions: &'static [&'static SupportedProtocolVersion],
) -> Result<ClientIdentity, TlsSetupError> {
    use std::os::unix::fs::PermissionsExt;
    let cert_path = &files.cert_file;
    let key_path = &files.key_file;
    let pem = std::fs::read(cert_path).map_err(|e| TlsSetupError::ClientCertUnreadable {
        path: cert_path.clone(),
        error: Arc::new(e),
    })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::ClientCertUnparsable {
            path: cert_path.clone(),
            pem: format!("{e:?}"),
        })?;
    if chain.is_empty() {
        return Err(TlsSetupError::ClientCertEmpty {
            path: cert_path.clone(),
        });
    }
    let key_unreadable = |e| TlsSetupError::ClientKeyUnreadable {
        path: key_path.clone(),
        error: Arc::new(e),
    };
    let mode = std::fs::metadata(key_path)
        .map_err(key_unreadable)?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(TlsSetupError::ClientKeyShared {
            path: key_path.clone(),
            mode,
        });
    }
    let key =
        PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsSetupError::ClientKeyUnparsable {
            path: key_path.clone(),
            pem: format!("{e:?}"),
        })?;
    let identity = ClientIdentity { chain, key };
    ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .and_then(|builder| {
            builder
                .with_root_certificates(RootCertStore::empty())
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        })
        .map_err(|e| TlsSetupError::ClientCertRejected {
            cert: cert_path.clone(),
            key: key_path.clone(),
            rustls: e.to_string(),
        })?;
    Ok(identity)
}

/// What the report shows of the end-entity certificate.
struct Read {
    subject: String,
    issuer: String,
    not_after: String,
    names: Vec<String>,
    self_signed: bool,
}

/// Parses the end-entity certificate for the report.
fn read_certificate(der: &CertificateDer<'_>) -> Read {
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, cert)) => Read {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after: cert.validity().not_after.to_string(),
            names: alt_names(&cert),
            self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        },
        Err(e) => {
            let unreadable = format!("(unreadable certificate: {e})");
            Read {
                subject: unreadable.clone(),
                issuer: unreadable,
                not_after: String::new(),
                names: Vec::new(),
                self_signed: false,
            }
        }
    }
}

/// The DNS names and IP addresses of the subjectAltName extension, the
/// names webpki checks `mail-server` against.
fn alt_names(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_string()),
            GeneralName::IPAddress(bytes) => ip_text(bytes),
            _ => None,
        })
        .collect()
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|octets| std::net::Ipv4Addr::from(octets).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|octets| std::net::Ipv6Addr::from(octets).to_string()),
        _ => None,
    }
}

/// Verifies with webpki or the pins (or only records, with `tls-verify=no`
/// and on a look-only connection) and keeps what it saw.
#[derive(Debug)]
struct Recorder {
    webpki: Arc<WebPkiServerVerifier>,
    check: CertificateCheck,
    pins: Vec<Fingerprint>,
    seen: Arc<Mutex<Option<PeerCertificate>>>,
}

/// The SHA-256 of a certificate's DER bytes.
fn fingerprint(der: &CertificateDer<'_>) -> Fingerprint {
    use sha2::Digest;
    Fingerprint(sha2::Sha256::digest(der.as_ref()).into())
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let read = read_certificate(end_entity);
        let seen = fingerprint(end_entity);
        let check = match self.check {
            CertificateCheck::Pin { .. } => CertificateCheck::Pin {
                matched: self.pins.contains(&seen),
            },
            other => other,
        };
        let peer = PeerCertificate {
            subject: read.subject,
            issuer: read.issuer,
            not_after: read.not_after,
            verification: verdict.as_ref().map(|_| ()).map_err(Clone::clone),
            check,
            fingerprint: seen,
            names: read.names,
            self_signed: read.self_signed,
        };
        if let Ok(mut slot) = self.seen.lock() {
            *slot = Some(peer);
        }
        match (check, verdict) {
            (CertificateCheck::Chain, Err(error)) => Err(error),
            (CertificateCheck::Pin { matched: false }, _) => Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            (CertificateCheck::Chain, Ok(_))
            | (CertificateCheck::Pin { matched: true }, _)
            | (CertificateCheck::Off | CertificateCheck::LookOnly, _) => {
                Ok(ServerCertVerified::assertion())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
