//! The HTTP client under `oauth2`: reqwest over rustls (ring), trusting the
//! system roots plus `[VMAIL] ca-file`, never following redirects (a token
//! request must not be replayed to another host), with timeouts, and with
//! 5xx and non-JSON answers turned into an error that keeps the status.

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

/// Why an HTTP exchange gave no usable answer. `Send` holds the cause as
/// text (the request's URL at most: bodies never reach it).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Send(String),
    #[error("HTTP {0}")]
    Status(u16),
}

/// Why the client could not be built (the trust anchors).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read ca-file {path}: {error}")]
    CaFile { path: String, error: std::io::Error },
    #[error("ca-file {path} holds no usable PEM certificate")]
    CaFileEmpty { path: String },
    #[error("cannot set up TLS for the token endpoint: {0}")]
    Tls(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Http {
    pub(crate) fn new(ca_file: Option<&Path>) -> Result<Http, TlsSetupError> {
        let provider = Arc::new(ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(path) = ca_file {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|error| TlsSetupError::CaFile {
                path: shown.clone(),
                error,
            })?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .filter_map(Result::ok)
                .collect();
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsSetupError::CaFileEmpty { path: shown });
            }
        }
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("vmail/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TlsSetupError::Tls(cause_of(&e)))?;
        Ok(Http { client })
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request =
            reqwest::Request::try_from(request).map_err(|e| HttpError::Send(cause_of(&e)))?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| HttpError::Send(cause_of(&e)))?;
        let status = response.status();
        let json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        if status.is_server_error() || (!status.is_success() && !json) {
            return Err(HttpError::Status(status.as_u16()));
        }
        let mut builder = oauth2::http::Response::builder().status(status.as_u16());
        for (name, value) in response.headers() {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError::Send(cause_of(&e)))?;
        builder
            .body(body.to_vec())
            .map_err(|e| HttpError::Send(e.to_string()))
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// The chain of causes, outermost first, without repeats and without the
/// wrappers that only repeat the URL ("error sending request for url
/// (...)", "client error (Connect)"): "invalid peer certificate:
/// UnknownIssuer", "tcp connect error: Connection refused (os error 111)".
fn cause_of(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        let wrapper =
            text.starts_with("error sending request") || text.starts_with("client error (");
        if !wrapper && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}
