//! The token service's vocabulary, shared by the server, the in-process
//! handle and the HTTP control client: what a test registers (a
//! [`ClientSpec`]), what it injects (a [`Fault`]) and what it reads back
//! ([`Counters`]). All of it is serde, because the control endpoints speak
//! exactly these types as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A grant the token endpoint knows (RFC 6749 §4.4, §6; RFC 7523; RFC 8628).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    ClientCredentials,
    RefreshToken,
    JwtBearer,
    DeviceCode,
}

impl Grant {
    pub const ALL: [Grant; 4] = [
        Grant::ClientCredentials,
        Grant::RefreshToken,
        Grant::JwtBearer,
        Grant::DeviceCode,
    ];

    /// The `grant_type` form value that asks for this grant.
    pub const fn grant_type(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken => "refresh_token",
            Grant::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Grant::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// The short name used as key in [`Counters::token_requests`].
    pub const fn name(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken => "refresh_token",
            Grant::JwtBearer => "jwt_bearer",
            Grant::DeviceCode => "device_code",
        }
    }

    pub fn from_grant_type(value: &str) -> Option<Grant> {
        Grant::ALL.into_iter().find(|g| g.grant_type() == value)
    }
}

/// What happens to a refresh token once it has been used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// Each use returns a new refresh token and the used one answers
    /// `invalid_grant` from then on (the strictest servers do this).
    #[default]
    Strict,
    /// Each use returns a new refresh token; the used one keeps working
    /// until the new one is used once (a grace period, as Okta and Auth0
    /// offer), so a client that died before saving the new one recovers.
    KeepOldUntilNewUsed,
    /// No rotation: the response has no `refresh_token` and the same one
    /// keeps working (Google).
    Off,
}

/// A client (an app registration) as a test registers it.
///
/// Build it with [`ClientSpec::new`] and the `with_*` methods; every test
/// registers its own, under its own id (see [`unique_client_id`]), because
/// tests of different files run in parallel against one service.
///
/// [`unique_client_id`]: super::unique_client_id
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    /// Letters, digits and `. _ - @` only (it is a path segment of the
    /// control endpoints). For the JWT bearer grant it is also the `iss` the
    /// assertion must carry (Google: the service account's e-mail).
    pub client_id: String,
    /// `None`: a public client (device flow, refresh of a delegated token),
    /// which authenticates by `client_id` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The mailbox its tokens stand for: `username` in introspection, so
    /// Dovecot lets the token log in as this address only; the `sub` a JWT
    /// assertion must name.
    pub mailbox: String,
    #[serde(default = "all_grants")]
    pub grants: Vec<Grant>,
    /// Lifetime of the access tokens issued to this client.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    #[serde(default)]
    pub rotation: Rotation,
    /// PEM (`BEGIN PUBLIC KEY`) of the RSA key that signs its JWT assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_public_key_pem: Option<String>,
    /// The `interval` of its device authorizations (0 allowed in tests).
    #[serde(default = "default_device_interval")]
    pub device_interval_secs: u64,
    /// The `expires_in` of its device codes.
    #[serde(default = "default_device_lifetime")]
    pub device_code_lifetime_secs: u64,
    /// When set, a requested scope outside this list answers `invalid_scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The Entra tenant it is registered in. On the Microsoft-shaped paths
    /// (`/{tenant}/oauth2/v2.0/token`) another tenant answers AADSTS700016.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

fn all_grants() -> Vec<Grant> {
    Grant::ALL.to_vec()
}
const fn default_token_lifetime() -> u64 {
    3600
}
const fn default_device_interval() -> u64 {
    5
}
const fn default_device_lifetime() -> u64 {
    600
}

impl ClientSpec {
    /// A public client allowed every grant, tokens valid for an hour,
    /// strict rotation, device interval 5 s and codes valid for 10 minutes.
    pub fn new(client_id: impl Into<String>, mailbox: impl Into<String>) -> ClientSpec {
        ClientSpec {
            client_id: client_id.into(),
            client_secret: None,
            mailbox: mailbox.into(),
            grants: all_grants(),
            token_lifetime_secs: default_token_lifetime(),
            rotation: Rotation::default(),
            jwt_public_key_pem: None,
            device_interval_secs: default_device_interval(),
            device_code_lifetime_secs: default_device_lifetime(),
            scopes: None,
            tenant: None,
        }
    }

    pub fn with_secret(mut self, secret: impl Into<String>) -> ClientSpec {
        self.client_secret = Some(secret.into());
        self
    }

    pub fn with_grants(mut self, grants: &[Grant]) -> ClientSpec {
        self.grants = grants.to_vec();
        self
    }

    pub fn with_token_lifetime(mut self, lifetime: Duration) -> ClientSpec {
        self.token_lifetime_secs = lifetime.as_secs();
        self
    }

    pub fn with_rotation(mut self, rotation: Rotation) -> ClientSpec {
        self.rotation = rotation;
        self
    }

    pub fn with_jwt_public_key(mut self, pem: impl Into<String>) -> ClientSpec {
        self.jwt_public_key_pem = Some(pem.into());
        self
    }

    pub fn with_device_timing(mut self, interval: Duration, lifetime: Duration) -> ClientSpec {
        self.device_interval_secs = interval.as_secs();
        self.device_code_lifetime_secs = lifetime.as_secs();
        self
    }

    pub fn with_scopes(mut self, scopes: &[&str]) -> ClientSpec {
        self.scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    pub fn with_tenant(mut self, tenant: impl Into<String>) -> ClientSpec {
        self.tenant = Some(tenant.into());
        self
    }
}

/// How the token endpoint misbehaves for one client (also at its device
/// authorization endpoint), injected with `set_fault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub answer: FaultAnswer,
    /// Only for this many requests (`None`: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Only for this long from now (`None`: until cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultAnswer {
    /// This HTTP status; with `error`, an RFC 6749 §5.2 JSON body (for
    /// instance `invalid_grant` with an `AADSTS65001: ...` description),
    /// without, a short text body like a proxy's 503 page.
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_description: Option<String>,
    },
    /// The request is read and the connection closed without an answer:
    /// what a client sees of a crashed or unreachable endpoint, for this
    /// client only (refusing connections is necessarily service-wide).
    Drop,
    /// The request is handled as usual (a refresh token rotated, a token
    /// issued) but the answer is held back this long: a client killed while
    /// it waits has lost an answer the service already acted on, which is
    /// how a test lands a `kill -9` between a rotation and its save.
    Delay { millis: u64 },
}

impl Fault {
    /// An HTTP status with a text body (503: the endpoint is down).
    pub fn status(status: u16) -> Fault {
        Fault::from(FaultAnswer::Status {
            status,
            error: None,
            error_description: None,
        })
    }

    /// An RFC 6749 §5.2 error answer of any kind, such as Microsoft's
    /// `invalid_grant` / `AADSTS65001: ... consent ...`.
    pub fn error(status: u16, error: &str, description: &str) -> Fault {
        Fault::from(FaultAnswer::Status {
            status,
            error: Some(error.to_owned()),
            error_description: Some(description.to_owned()),
        })
    }

    /// Connections closed without an answer.
    pub fn drop_connection() -> Fault {
        Fault::from(FaultAnswer::Drop)
    }

    /// Answers held back for `delay` (see [`FaultAnswer::Delay`]).
    pub fn delay(delay: Duration) -> Fault {
        Fault::from(FaultAnswer::Delay {
            millis: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        })
    }

    pub fn times(mut self, times: u32) -> Fault {
        self.times = Some(times);
        self
    }

    pub fn for_duration(mut self, duration: Duration) -> Fault {
        self.for_secs = Some(duration.as_secs());
        self
    }
}

impl From<FaultAnswer> for Fault {
    fn from(answer: FaultAnswer) -> Fault {
        Fault {
            answer,
            times: None,
            for_secs: None,
        }
    }
}

/// What one client has asked of the service so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Token requests by grant name ([`Grant::name`]), counted once the
    /// client is identified, whatever the answer (faults included).
    pub token_requests: BTreeMap<String, u64>,
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Token and device requests answered with an error (injected ones too).
    pub token_errors: u64,
    /// Requests answered by an injected fault.
    pub faults_applied: u64,
    /// Device authorizations started (`POST /device`).
    pub device_authorizations: u64,
    /// Introspections of this client's tokens (Dovecot asks once per AUTH).
    pub introspections: u64,
    /// Those that answered `"active": true`.
    pub introspections_active: u64,
}

impl Counters {
    pub fn token_requests(&self, grant: Grant) -> u64 {
        self.token_requests.get(grant.name()).copied().unwrap_or(0)
    }

    pub fn total_token_requests(&self) -> u64 {
        self.token_requests.values().sum()
    }
}

/// A successful token answer (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// A device authorization answer (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
    /// Microsoft's text for the user.
    pub message: String,
}
