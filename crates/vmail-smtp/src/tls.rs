//! TLS for SMTP, implicit or after STARTTLS, and for POP3S: rustls with the
//! ring provider, the system roots plus `ca-file`, and a verifier that
//! records what it saw so that a report can show the certificate and the
//! verdict (even when `tls-verify=no` keeps the verdict from being enforced).

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
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};
use vmail_core::SmtpSettings;

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
    /// False with `tls-verify=no`: the verdict was not enforced.
    pub enforced: bool,
    /// The names the certificate is valid for (its subjectAltName DNS
    /// names and IP addresses), so that a wrong `mail-server` can be told
    /// which name to use.
    pub names: Vec<String>,
    /// Issued by itself (issuer and subject are the same name): no CA
    /// vouches for it, and only `ca-file` holding this very certificate
    /// (pinning it) makes it verify.
    pub self_signed: bool,
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

/// Trust anchors and provider, built once per submitter.
#[derive(Debug, Clone)]
pub(crate) struct TlsContext {
    provider: Arc<CryptoProvider>,
    webpki: Arc<WebPkiServerVerifier>,
    verify: bool,
}

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
        Ok(TlsContext {
            provider,
            webpki,
            verify: settings.tls_verify,
        })
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
        let verifier = Arc::new(Recorder {
            webpki: self.webpki.clone(),
            verify: self.verify,
            seen: seen.clone(),
        });
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        if !self.verify {
            transcript.warn(
                "tls-verify=no: the server's certificate is NOT verified; anyone on the path \
                 can read the login and the mail",
            );
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
        let verdict = match (&peer.verification, peer.enforced) {
            (Ok(()), _) => "verified".to_string(),
            (Err(why), true) => format!("NOT verified ({why})"),
            (Err(why), false) => format!("NOT verified ({why}); accepted because tls-verify=no"),
        };
        transcript.note(format!(
            "certificate: subject {}; issuer {}; valid until {}; {verdict}",
            peer.subject, peer.issuer, peer.not_after
        ));
    }
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

/// Verifies with webpki (or only records, with `tls-verify=no`) and keeps
/// what it saw.
#[derive(Debug)]
struct Recorder {
    webpki: Arc<WebPkiServerVerifier>,
    verify: bool,
    seen: Arc<Mutex<Option<PeerCertificate>>>,
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
        let peer = PeerCertificate {
            subject: read.subject,
            issuer: read.issuer,
            not_after: read.not_after,
            verification: verdict.as_ref().map(|_| ()).map_err(Clone::clone),
            enforced: self.verify,
            names: read.names,
            self_signed: read.self_signed,
        };
        if let Ok(mut slot) = self.seen.lock() {
            *slot = Some(peer);
        }
        match verdict {
            Err(error) if self.verify => Err(error),
            Ok(_) | Err(_) => Ok(ServerCertVerified::assertion()),
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
