//! Errors: [`OAuthError`] is an answer of the token endpoint (RFC 6749
//! §5.2, optionally in Microsoft's AADSTS words); [`ServiceError`] is what
//! the Rust API of the service and of its control client return.

use serde_json::json;

/// An error answer of the token or device endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: u16,
    pub error: String,
    pub description: String,
    /// What Entra ID answers instead, on the Microsoft-shaped paths.
    pub aadsts: Option<Aadsts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Aadsts {
    pub code: u32,
    pub status: u16,
    pub error: &'static str,
    pub text: String,
}

impl OAuthError {
    pub fn new(status: u16, error: &str, description: String) -> OAuthError {
        OAuthError {
            status,
            error: error.to_owned(),
            description,
            aadsts: None,
        }
    }

    fn microsoft(
        mut self,
        code: u32,
        status: u16,
        error: &'static str,
        text: String,
    ) -> OAuthError {
        self.aadsts = Some(Aadsts {
            code,
            status,
            error,
            text,
        });
        self
    }

    pub fn invalid_request(description: &str) -> OAuthError {
        OAuthError::new(400, "invalid_request", description.to_owned())
    }

    pub fn invalid_grant(description: &str) -> OAuthError {
        OAuthError::new(400, "invalid_grant", description.to_owned())
    }

    pub fn invalid_client_missing() -> OAuthError {
        OAuthError::new(401, "invalid_client", "client_id is missing".into()).microsoft(
            900144,
            400,
            "invalid_request",
            "The request body must contain the following parameter: 'client_id'.".into(),
        )
    }

    pub fn unknown_tenant(tenant: &str) -> OAuthError {
        OAuthError::new(400, "invalid_request", format!("tenant {tenant} not found")).microsoft(
            90002,
            400,
            "invalid_request",
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        )
    }

    pub fn unknown_client(id: &str, tenant: Option<&str>) -> OAuthError {
        let tenant = tenant.unwrap_or("common");
        OAuthError::new(401, "invalid_client", format!("unknown client {id}")).microsoft(
            700016,
            400,
            "unauthorized_client",
            format!("Application with identifier '{id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
        )
    }

    pub fn revoked_client(id: &str) -> OAuthError {
        OAuthError::new(401, "invalid_client", format!("client {id} is revoked")).microsoft(
            7000222,
            401,
            "invalid_client",
            format!("The provided client secret keys for app '{id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."),
        )
    }

    pub fn secret_missing() -> OAuthError {
        OAuthError::new(401, "invalid_client", "client authentication is required".into()).microsoft(
            7000218,
            401,
            "invalid_client",
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
        )
    }

    pub fn wrong_secret(id: &str) -> OAuthError {
        OAuthError::new(401, "invalid_client", "client authentication failed".into()).microsoft(
            7000215,
            401,
            "invalid_client",
            format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{id}'."),
        )
    }

    pub fn invalid_scope(scope: &str) -> OAuthError {
        OAuthError::new(400, "invalid_scope", format!("scope {scope} is not allowed for this client")).microsoft(
            70011,
            400,
            "invalid_scope",
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
        )
    }

    /// The status and JSON body: RFC 6749 §5.2, or Entra ID's shape (the
    /// AADSTS text with its trace lines, `error_codes`, ids, timestamp).
    pub fn render(&self, microsoft: bool) -> (u16, serde_json::Value) {
        match (&self.aadsts, microsoft) {
            (Some(ms), true) => {
                let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
                let trace = pseudo_uuid();
                let correlation = pseudo_uuid();
                let description = format!(
                    "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}",
                    ms.code, ms.text
                );
                (
                    ms.status,
                    json!({
                        "error": ms.error,
                        "error_description": description,
                        "error_codes": [ms.code],
                        "timestamp": timestamp,
                        "trace_id": trace,
                        "correlation_id": correlation,
                        "error_uri": format!("https://login.microsoftonline.com/error?code={}", ms.code),
                    }),
                )
            }
            _ => (
                self.status,
                json!({ "error": self.error, "error_description": self.description }),
            ),
        }
    }
}

fn pseudo_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// What the token service's Rust API (in-process or over HTTP) returns.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no client {0} is registered at the token service")]
    UnknownClient(String),
    #[error("a client {0} is already registered (each test registers its own id)")]
    DuplicateClient(String),
    #[error("client id {0:?}: only letters, digits and . _ - @ are allowed")]
    BadClientId(String),
    #[error("client {0} has no pending device authorization")]
    NoPendingDevice(String),
    #[error("RSA key: {0}")]
    Key(String),
    /// A control request the service could not read (JSON).
    #[error("bad control request: {0}")]
    BadRequest(String),
    #[error("TLS setup of the token service: {0}")]
    Tls(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP request to the token service {url}: {message}")]
    Http { url: String, message: String },
    /// The token endpoint answered with an RFC 6749 §5.2 error.
    #[error("token endpoint answered {status} {error}: {description}")]
    OAuth {
        status: u16,
        error: String,
        description: String,
    },
    #[error("the token service answered {status} to {url}: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
}

impl ServiceError {
    /// The machine-readable kind, as the control endpoints send it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ServiceError::UnknownClient(_) => "unknown_client",
            ServiceError::DuplicateClient(_) => "duplicate_client",
            ServiceError::BadClientId(_) => "bad_client_id",
            ServiceError::NoPendingDevice(_) => "no_pending_device",
            ServiceError::Key(_) => "bad_key",
            ServiceError::BadRequest(_) => "bad_request",
            ServiceError::Tls(_) => "tls",
            ServiceError::Io { .. } => "io",
            ServiceError::Http { .. } => "http",
            ServiceError::OAuth { .. } => "oauth",
            ServiceError::Unexpected { .. } => "unexpected",
        }
    }

    /// The HTTP status of a control endpoint that failed with this error.
    pub(crate) fn status(&self) -> u16 {
        match self {
            ServiceError::UnknownClient(_) | ServiceError::NoPendingDevice(_) => 404,
            ServiceError::DuplicateClient(_) => 409,
            ServiceError::BadClientId(_) | ServiceError::Key(_) | ServiceError::BadRequest(_) => {
                400
            }
            ServiceError::Tls(_)
            | ServiceError::Io { .. }
            | ServiceError::Http { .. }
            | ServiceError::OAuth { .. }
            | ServiceError::Unexpected { .. } => 500,
        }
    }

    /// Back from a control endpoint's JSON error (`{"error","message","id"}`).
    pub(crate) fn from_control(kind: &str, id: &str, message: String) -> Option<ServiceError> {
        Some(match kind {
            "unknown_client" => ServiceError::UnknownClient(id.to_owned()),
            "duplicate_client" => ServiceError::DuplicateClient(id.to_owned()),
            "bad_client_id" => ServiceError::BadClientId(id.to_owned()),
            "no_pending_device" => ServiceError::NoPendingDevice(id.to_owned()),
            "bad_key" => ServiceError::Key(message),
            "bad_request" => ServiceError::BadRequest(message),
            _ => return None,
        })
    }
}
