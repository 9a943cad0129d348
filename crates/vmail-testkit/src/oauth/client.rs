//! [`TokenServiceClient`]: a blocking HTTP client (ureq over rustls) of a
//! token service, for tests that drive the one `tests/servers/start.sh`
//! runs (or an in-process one over the wire): the control endpoints, and
//! the OAuth requests a client under test would make, to check answers.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::error::ServiceError;
use super::types::{ClientSpec, Counters, DeviceAuthorization, Fault, Grant, TokenResponse};
use super::{ServiceUrls, TokenServiceControl};
use crate::servers::TestServers;

/// Every request gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct TokenServiceClient {
    agent: ureq::Agent,
    urls: ServiceUrls,
}

impl TokenServiceClient {
    /// A client of the service at `base_url`, trusting only `ca_pem` (the
    /// test CA) for HTTPS.
    pub fn new(base_url: &str, ca_pem: Option<&[u8]>) -> Result<TokenServiceClient, ServiceError> {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT));
        if let Some(pem) = ca_pem {
            let ca = Certificate::from_pem(pem)
                .map_err(|e| ServiceError::Tls(format!("the CA PEM: {e}")))?;
            let tls = TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
                .build();
            config = config.tls_config(tls);
        }
        Ok(TokenServiceClient {
            agent: config.build().into(),
            urls: ServiceUrls::new(base_url.trim_end_matches('/').to_owned()),
        })
    }

    /// The service that `tests/servers/start.sh` runs, trusting the test CA.
    pub fn from_servers(servers: &TestServers) -> Result<TokenServiceClient, ServiceError> {
        let ca = std::fs::read(&servers.ca_cert).map_err(|source| ServiceError::Io {
            what: format!("read {}", servers.ca_cert.display()),
            source,
        })?;
        TokenServiceClient::new(&servers.token_service_url, Some(&ca))
    }

    pub fn urls(&self) -> &ServiceUrls {
        &self.urls
    }

    // ------------------------------------------------------------ OAuth side

    /// POSTs a form (with `Authorization: Basic` when `basic` is given) and
    /// returns the status and the JSON body (`Value::Null` when not JSON).
    pub fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<(u16, Value), ServiceError> {
        let mut request = self.agent.post(url);
        if let Some((id, secret)) = basic {
            let encode =
                |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(id), encode(secret));
            request = request.header("Authorization", format!("Basic {}", STANDARD.encode(pair)));
        }
        let mut response = request
            .send_form(form.iter().copied())
            .map_err(|e| http_error(url, e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| http_error(url, e))?;
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    /// A token request to `POST /token`: the answer, or its RFC 6749 error
    /// as [`ServiceError::OAuth`].
    pub fn request_token(&self, form: &[(&str, &str)]) -> Result<TokenResponse, ServiceError> {
        let (status, body) = self.post_form(&self.urls.token(), form, None)?;
        typed(status, body)
    }

    pub fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, ServiceError> {
        let mut form = vec![
            ("grant_type", Grant::ClientCredentials.grant_type()),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        form.extend(scope.map(|s| ("scope", s)));
        self.request_token(&form)
    }

    /// The refresh grant; `secret` is `None` for a public client.
    pub fn refresh(
        &self,
        client_id: &str,
        secret: Option<&str>,
        refresh_token: &str,
    ) -> Result<TokenResponse, ServiceError> {
        let mut form = vec![
            ("grant_type", Grant::RefreshToken.grant_type()),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
        ];
        form.extend(secret.map(|s| ("client_secret", s)));
        self.request_token(&form)
    }

    /// The JWT bearer grant with a signed assertion (see `sign_assertion`).
    pub fn jwt_bearer(&self, assertion: &str) -> Result<TokenResponse, ServiceError> {
        self.request_token(&[
            ("grant_type", Grant::JwtBearer.grant_type()),
            ("assertion", assertion),
        ])
    }

    pub fn start_device(
        &self,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<DeviceAuthorization, ServiceError> {
        let mut form = vec![("client_id", client_id)];
        form.extend(scope.map(|s| ("scope", s)));
        let (status, body) = self.post_form(&self.urls.device(), &form, None)?;
        typed(status, body)
    }

    /// One poll of the device grant: `authorization_pending`, `slow_down`,
    /// `expired_token`, `access_denied` come back as [`ServiceError::OAuth`].
    pub fn poll_device(
        &self,
        client_id: &str,
        device_code: &str,
    ) -> Result<TokenResponse, ServiceError> {
        self.request_token(&[
            ("grant_type", Grant::DeviceCode.grant_type()),
            ("client_id", client_id),
            ("device_code", device_code),
        ])
    }

    /// What Dovecot asks: `{"active":true,"username":...}` or `{"active":false}`.
    pub fn introspect(&self, token: &str) -> Result<Value, ServiceError> {
        let (status, body) =
            self.post_form(&self.urls.introspection(), &[("token", token)], None)?;
        typed(status, body)
    }

    // ------------------------------------------------------------ control

    fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ServiceError> {
        let url = format!("{}/admin/{path}", self.urls.base());
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let result = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            "PUT" => self
                .agent
                .put(&url)
                .content_type("application/json")
                .send(&text),
            _ => self
                .agent
                .post(&url)
                .content_type("application/json")
                .send(&text),
        };
        let mut response = result.map_err(|e| http_error(&url, e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| http_error(&url, e))?;
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(value);
        }
        let field = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Err(
            ServiceError::from_control(&field("error"), &field("id"), field("message"))
                .unwrap_or(ServiceError::Unexpected { url, status, body }),
        )
    }

    fn client_control(
        &self,
        method: &str,
        id: &str,
        rest: &str,
        body: Option<Value>,
    ) -> Result<Value, ServiceError> {
        self.control(method, &format!("clients/{id}/{rest}"), body)
    }
}

impl TokenServiceControl for TokenServiceClient {
    fn register_client(&self, spec: &ClientSpec) -> Result<(), ServiceError> {
        let body =
            serde_json::to_value(spec).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        self.control("POST", "clients", Some(body)).map(drop)
    }
    fn revoke_client(&self, client_id: &str) -> Result<(), ServiceError> {
        self.client_control("POST", client_id, "revoke", None)
            .map(drop)
    }
    fn reinstate_client(&self, client_id: &str) -> Result<(), ServiceError> {
        self.client_control("POST", client_id, "reinstate", None)
            .map(drop)
    }
    fn revoke_tokens(&self, client_id: &str) -> Result<(), ServiceError> {
        self.client_control("POST", client_id, "revoke_tokens", None)
            .map(drop)
    }
    fn expire_tokens(&self, client_id: &str) -> Result<(), ServiceError> {
        self.client_control("POST", client_id, "expire_tokens", None)
            .map(drop)
    }
    fn issue_refresh_token(&self, client_id: &str) -> Result<String, ServiceError> {
        let value = self.client_control("POST", client_id, "refresh_token", None)?;
        typed(200, value["refresh_token"].clone())
    }
    fn approve_device(
        &self,
        client_id: &str,
        user_code: Option<&str>,
    ) -> Result<usize, ServiceError> {
        let value = self.client_control(
            "POST",
            client_id,
            "device/approve",
            Some(json!({ "user_code": user_code })),
        )?;
        typed(200, value["decided"].clone())
    }
    fn deny_device(&self, client_id: &str, user_code: Option<&str>) -> Result<usize, ServiceError> {
        let value = self.client_control(
            "POST",
            client_id,
            "device/deny",
            Some(json!({ "user_code": user_code })),
        )?;
        typed(200, value["decided"].clone())
    }
    fn pending_user_codes(&self, client_id: &str) -> Result<Vec<String>, ServiceError> {
        let value = self.client_control("GET", client_id, "device", None)?;
        typed(200, value["pending"].clone())
    }
    fn slow_down_next_poll(&self, client_id: &str) -> Result<(), ServiceError> {
        self.client_control("POST", client_id, "device/slow_down", None)
            .map(drop)
    }
    fn set_fault(&self, client_id: &str, fault: &Fault) -> Result<(), ServiceError> {
        let body =
            serde_json::to_value(fault).map_err(|e| ServiceError::BadRequest(e.to_string()))?;
        self.client_control("PUT", client_id, "fault", Some(body))
            .map(drop)
    }
    fn clear_fault(&self, client_id: &str) -> Result<(), ServiceError> {
        self.client_control("DELETE", client_id, "fault", None)
            .map(drop)
    }
    fn deny_introspection(&self, client_id: &str, deny: bool) -> Result<(), ServiceError> {
        self.client_control(
            "PUT",
            client_id,
            "introspection",
            Some(json!({ "deny": deny })),
        )
        .map(drop)
    }
    fn counters(&self, client_id: &str) -> Result<Counters, ServiceError> {
        let value = self.client_control("GET", client_id, "counters", None)?;
        typed(200, value)
    }
    fn refuse_connections(&self, duration: Duration) -> Result<(), ServiceError> {
        self.control(
            "POST",
            "refuse_connections",
            Some(json!({ "for_secs": duration.as_secs() })),
        )
        .map(drop)
    }
}

/// A 200 JSON body as `T`; an RFC 6749 error body as [`ServiceError::OAuth`].
fn typed<T: DeserializeOwned>(status: u16, body: Value) -> Result<T, ServiceError> {
    if status == 200
        && let Ok(value) = serde_json::from_value(body.clone())
    {
        return Ok(value);
    }
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        return Err(ServiceError::OAuth {
            status,
            error: error.to_owned(),
            description: body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        });
    }
    Err(ServiceError::Unexpected {
        url: String::new(),
        status,
        body: body.to_string(),
    })
}

fn http_error(url: &str, error: ureq::Error) -> ServiceError {
    ServiceError::Http {
        url: url.to_owned(),
        message: error.to_string(),
    }
}
