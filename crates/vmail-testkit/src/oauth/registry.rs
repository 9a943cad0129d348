//! The service's whole state (clients, tokens, device codes, faults,
//! counters) and the grants as plain functions of it. The clock is passed
//! in (`now`), so the unit tests walk through expiry and polling intervals
//! without waiting; the HTTP layer only parses and renders.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng as _;

mod device;

use device::DeviceRecord;

use super::error::{OAuthError, ServiceError};
use super::jwt;
use super::types::{ClientSpec, Counters, Fault, FaultAnswer, Grant, Rotation, TokenResponse};

/// Tenants Microsoft accepts in place of a tenant id.
const MULTI_TENANT: [&str; 3] = ["common", "organizations", "consumers"];

/// One token request as the HTTP layer parsed it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenRequest {
    pub params: HashMap<String, String>,
    /// Client id and secret from `Authorization: Basic`, already decoded.
    pub basic: Option<(String, String)>,
    /// The URL the request was sent to: the `aud` a JWT assertion must name.
    pub token_url: String,
    /// The tenant of a Microsoft-shaped path.
    pub tenant: Option<String>,
}

pub(crate) enum Answer<T> {
    Ok(T),
    Error(OAuthError),
    Fault(FaultAnswer),
}

#[derive(Default)]
pub(crate) struct Registry {
    clients: HashMap<String, Client>,
    access: HashMap<String, AccessRecord>,
    refresh: HashMap<String, RefreshRecord>,
    devices: HashMap<String, DeviceRecord>,
    /// Introspections of tokens this service never issued.
    pub unknown_introspections: u64,
    /// Set by a [`FaultAnswer::Delay`]: how long the server holds back the
    /// answer to the request just handled. The server takes it.
    pub hold_answer_millis: Option<u64>,
}

struct Client {
    spec: ClientSpec,
    revoked: bool,
    deny_introspection: bool,
    slow_down_next_poll: bool,
    fault: Option<ActiveFault>,
    counters: Counters,
}

struct ActiveFault {
    answer: FaultAnswer,
    remaining: Option<u32>,
    until: Option<Instant>,
}

struct AccessRecord {
    client_id: String,
    scope: Option<String>,
    expires: Instant,
    expires_unix: u64,
    issued_unix: u64,
    revoked: bool,
}

struct RefreshRecord {
    client_id: String,
    scope: Option<String>,
    state: RefreshState,
    /// The token this one replaced while that one stays usable
    /// ([`Rotation::KeepOldUntilNewUsed`]); it dies when this one is used.
    predecessor: Option<String>,
}

#[derive(Clone, PartialEq, Eq)]
enum RefreshState {
    Live,
    /// Replaced, still usable until the successor is used.
    Superseded,
    Used,
    Revoked,
}

impl Registry {
    // ------------------------------------------------------------ control

    pub fn register(&mut self, spec: ClientSpec) -> Result<(), ServiceError> {
        let id = &spec.client_id;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
        {
            return Err(ServiceError::BadClientId(id.clone()));
        }
        if self.clients.contains_key(id) {
            return Err(ServiceError::DuplicateClient(id.clone()));
        }
        if let Some(pem) = &spec.jwt_public_key_pem {
            jwt::check_public_key(pem)?;
        }
        let client = Client {
            spec,
            revoked: false,
            deny_introspection: false,
            slow_down_next_poll: false,
            fault: None,
            counters: Counters::default(),
        };
        self.clients.insert(client.spec.client_id.clone(), client);
        Ok(())
    }

    fn client_mut(&mut self, id: &str) -> Result<&mut Client, ServiceError> {
        self.clients
            .get_mut(id)
            .ok_or_else(|| ServiceError::UnknownClient(id.to_owned()))
    }

    /// The client's tokens die and its token requests answer
    /// `invalid_client` until [`Registry::reinstate`].
    pub fn revoke_client(&mut self, id: &str) -> Result<(), ServiceError> {
        self.client_mut(id)?.revoked = true;
        self.revoke_tokens(id)
    }

    pub fn reinstate(&mut self, id: &str) -> Result<(), ServiceError> {
        self.client_mut(id)?.revoked = false;
        Ok(())
    }

    /// Every access and refresh token of the client stops working; the
    /// client itself may get new ones.
    pub fn revoke_tokens(&mut self, id: &str) -> Result<(), ServiceError> {
        self.client_mut(id)?;
        for token in self.access.values_mut().filter(|t| t.client_id == id) {
            token.revoked = true;
        }
        for token in self.refresh.values_mut().filter(|t| t.client_id == id) {
            token.state = RefreshState::Revoked;
        }
        Ok(())
    }

    /// The client's access tokens expire now (its refresh tokens live on):
    /// the next introspection says inactive, without a test waiting.
    pub fn expire_tokens(&mut self, id: &str, now: Instant) -> Result<(), ServiceError> {
        self.client_mut(id)?;
        for token in self.access.values_mut().filter(|t| t.client_id == id) {
            token.expires = token.expires.min(now);
            token.expires_unix = token.expires_unix.min(jwt::unix_now());
        }
        Ok(())
    }

    /// A refresh token as if the mailbox's owner had consented (the start
    /// of a `refresh-token` setup without a device flow).
    pub fn issue_refresh_token(&mut self, id: &str) -> Result<String, ServiceError> {
        self.client_mut(id)?;
        Ok(self.new_refresh(id, None, None))
    }

    pub fn set_fault(
        &mut self,
        id: &str,
        fault: Option<Fault>,
        now: Instant,
    ) -> Result<(), ServiceError> {
        self.client_mut(id)?.fault = fault.map(|f| ActiveFault {
            answer: f.answer,
            remaining: f.times,
            until: f.for_secs.map(|s| now + Duration::from_secs(s)),
        });
        Ok(())
    }

    /// Introspection answers inactive for the client's tokens (Dovecot
    /// rejects them) while they still look valid to the client.
    pub fn deny_introspection(&mut self, id: &str, deny: bool) -> Result<(), ServiceError> {
        self.client_mut(id)?.deny_introspection = deny;
        Ok(())
    }

    pub fn counters(&mut self, id: &str) -> Result<Counters, ServiceError> {
        Ok(self.client_mut(id)?.counters.clone())
    }

    // ------------------------------------------------------------ endpoints

    /// `POST /token`.
    pub fn token(&mut self, request: &TokenRequest, now: Instant) -> Answer<TokenResponse> {
        let Some(grant_type) = request.params.get("grant_type") else {
            return Answer::Error(OAuthError::invalid_request("grant_type is missing"));
        };
        let Some(grant) = Grant::from_grant_type(grant_type) else {
            return Answer::Error(OAuthError::new(
                400,
                "unsupported_grant_type",
                format!("grant_type {grant_type} is not supported"),
            ));
        };
        let id = match self.identify(request, grant) {
            Ok(id) => id,
            Err(error) => return Answer::Error(error),
        };
        let answer = self.token_for(&id, grant, request, now);
        if let Some(client) = self.clients.get_mut(&id) {
            match &answer {
                Answer::Ok(_) => client.counters.tokens_issued += 1,
                Answer::Error(_) | Answer::Fault(_) => client.counters.token_errors += 1,
            }
        }
        answer
    }

    fn token_for(
        &mut self,
        id: &str,
        grant: Grant,
        request: &TokenRequest,
        now: Instant,
    ) -> Answer<TokenResponse> {
        if let Some(client) = self.clients.get_mut(id) {
            *client
                .counters
                .token_requests
                .entry(grant.name().to_owned())
                .or_default() += 1;
        }
        if let Some(fault) = self.take_fault(id, now) {
            return Answer::Fault(fault);
        }
        let spec = match self.admit(id, grant, request) {
            Ok(spec) => spec,
            Err(error) => return Answer::Error(error),
        };
        let result = match grant {
            Grant::ClientCredentials => {
                let scope = request.params.get("scope").cloned();
                Ok(self.issue(&spec, scope, false, now))
            }
            Grant::RefreshToken => self.refresh_grant(&spec, request, now),
            Grant::JwtBearer => self.jwt_grant(&spec, request, now),
            Grant::DeviceCode => self.device_grant(&spec, request, now),
        };
        match result {
            Ok(response) => Answer::Ok(response),
            Err(error) => Answer::Error(error),
        }
    }

    /// The client id of a token request: from the assertion's `iss` for the
    /// JWT bearer grant, else from Basic or the form (not both, differing).
    fn identify(&self, request: &TokenRequest, grant: Grant) -> Result<String, OAuthError> {
        let form_id = request.params.get("client_id");
        let id = if grant == Grant::JwtBearer {
            let assertion = request
                .params
                .get("assertion")
                .ok_or_else(|| OAuthError::invalid_request("assertion is missing"))?;
            jwt::unverified_issuer(assertion).ok_or_else(|| {
                OAuthError::new(
                    400,
                    "invalid_grant",
                    "Invalid JWT: no readable iss claim".into(),
                )
            })?
        } else {
            match (&request.basic, form_id) {
                (Some((basic, _)), Some(form)) if basic != form => {
                    return Err(OAuthError::invalid_request(
                        "client_id differs between Basic authentication and the form",
                    ));
                }
                (Some((basic, _)), _) => basic.clone(),
                (None, Some(form)) => form.clone(),
                (None, None) => return Err(OAuthError::invalid_client_missing()),
            }
        };
        if let Some(tenant) = &request.tenant {
            let known = MULTI_TENANT.contains(&tenant.as_str())
                || self
                    .clients
                    .values()
                    .any(|c| c.spec.tenant.as_deref() == Some(tenant));
            if !known {
                return Err(OAuthError::unknown_tenant(tenant));
            }
        }
        match self.clients.get(&id) {
            None => Err(OAuthError::unknown_client(&id, request.tenant.as_deref())),
            Some(client)
                if request.tenant.is_some()
                    && client.spec.tenant.is_some()
                    && client.spec.tenant != request.tenant =>
            {
                Err(OAuthError::unknown_client(&id, request.tenant.as_deref()))
            }
            Some(_) => Ok(id),
        }
    }

    /// Client authentication and permission to use `grant`.
    fn admit(
        &self,
        id: &str,
        grant: Grant,
        request: &TokenRequest,
    ) -> Result<ClientSpec, OAuthError> {
        let Some(client) = self.clients.get(id) else {
            return Err(OAuthError::unknown_client(id, request.tenant.as_deref()));
        };
        if client.revoked {
            return Err(OAuthError::revoked_client(id));
        }
        // The assertion is the JWT bearer grant's credential.
        if grant != Grant::JwtBearer
            && let Some(secret) = &client.spec.client_secret
        {
            let given = match &request.basic {
                Some((_, basic)) => Some(basic),
                None => request.params.get("client_secret"),
            };
            match given {
                None => return Err(OAuthError::secret_missing()),
                Some(given) if given != secret => return Err(OAuthError::wrong_secret(id)),
                Some(_) => {}
            }
        }
        if !client.spec.grants.contains(&grant) {
            return Err(OAuthError::new(
                400,
                "unauthorized_client",
                format!("client {id} may not use the {} grant", grant.name()),
            ));
        }
        if let (Some(allowed), Some(scope)) = (&client.spec.scopes, request.params.get("scope"))
            && let Some(bad) = scope
                .split_whitespace()
                .find(|s| !allowed.iter().any(|a| a == s))
        {
            return Err(OAuthError::invalid_scope(bad));
        }
        Ok(client.spec.clone())
    }

    fn take_fault(&mut self, id: &str, now: Instant) -> Option<FaultAnswer> {
        let client = self.clients.get_mut(id)?;
        let fault = client.fault.as_mut()?;
        if fault.until.is_some_and(|until| now >= until) || fault.remaining == Some(0) {
            client.fault = None;
            return None;
        }
        if let Some(remaining) = &mut fault.remaining {
            *remaining -= 1;
        }
        client.counters.faults_applied += 1;
        if let FaultAnswer::Delay { millis } = fault.answer {
            // Handled as usual; only the answer waits.
            self.hold_answer_millis = Some(millis);
            return None;
        }
        Some(fault.answer.clone())
    }

    fn refresh_grant(
        &mut self,
        spec: &ClientSpec,
        request: &TokenRequest,
        now: Instant,
    ) -> Result<TokenResponse, OAuthError> {
        let token = request
            .params
            .get("refresh_token")
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
        let (state, scope, predecessor) = match self.refresh.get_mut(token) {
            Some(r) if r.client_id == spec.client_id => {
                (r.state.clone(), r.scope.clone(), r.predecessor.take())
            }
            _ => return Err(OAuthError::invalid_grant("the refresh token is unknown")),
        };
        match state {
            RefreshState::Used => {
                return Err(OAuthError::invalid_grant(
                    "the refresh token was already used (rotated)",
                ));
            }
            RefreshState::Revoked => {
                return Err(OAuthError::invalid_grant("the refresh token was revoked"));
            }
            RefreshState::Live | RefreshState::Superseded => {}
        }
        // Using a token proves its holder saved it: what it replaced dies.
        if let Some(old) = predecessor.and_then(|p| self.refresh.get_mut(&p)) {
            old.state = RefreshState::Used;
        }
        let scope = request.params.get("scope").cloned().or(scope);
        let mut response = self.issue(spec, scope.clone(), false, now);
        match spec.rotation {
            Rotation::Off => {}
            Rotation::Strict => {
                self.set_refresh_state(token, RefreshState::Used);
                response.refresh_token = Some(self.new_refresh(&spec.client_id, scope, None));
            }
            Rotation::KeepOldUntilNewUsed => {
                // An older successor of this token (issued to a client that
                // then lost it) is replaced by the new one.
                let orphans: Vec<String> = self
                    .refresh
                    .iter()
                    .filter(|(_, r)| r.predecessor.as_deref() == Some(token.as_str()))
                    .map(|(k, _)| k.clone())
                    .collect();
                for orphan in orphans {
                    self.set_refresh_state(&orphan, RefreshState::Used);
                }
                self.set_refresh_state(token, RefreshState::Superseded);
                let new = self.new_refresh(&spec.client_id, scope, Some(token.clone()));
                response.refresh_token = Some(new);
            }
        }
        Ok(response)
    }

    fn set_refresh_state(&mut self, token: &str, state: RefreshState) {
        if let Some(record) = self.refresh.get_mut(token) {
            record.state = state;
        }
    }

    fn jwt_grant(
        &mut self,
        spec: &ClientSpec,
        request: &TokenRequest,
        now: Instant,
    ) -> Result<TokenResponse, OAuthError> {
        let assertion = request
            .params
            .get("assertion")
            .ok_or_else(|| OAuthError::invalid_request("assertion is missing"))?;
        let Some(key) = &spec.jwt_public_key_pem else {
            return Err(OAuthError::invalid_grant(
                "no public key is registered for this client",
            ));
        };
        let claims = jwt::verify_assertion(assertion, key, &spec.client_id, &request.token_url)
            .map_err(|refused| OAuthError::invalid_grant(&refused.0))?;
        if !claims.sub.eq_ignore_ascii_case(&spec.mailbox) {
            return Err(OAuthError::new(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into(),
            ));
        }
        Ok(self.issue(spec, claims.scope, false, now))
    }

    /// `POST /introspect` (RFC 7662): the JSON object for Dovecot.
    pub fn introspect(&mut self, token: &str, now: Instant) -> serde_json::Value {
        let Some(record) = self.access.get(token) else {
            self.unknown_introspections += 1;
            return serde_json::json!({ "active": false });
        };
        let Some(client) = self.clients.get_mut(&record.client_id) else {
            return serde_json::json!({ "active": false });
        };
        client.counters.introspections += 1;
        let active = !record.revoked
            && now < record.expires
            && !client.revoked
            && !client.deny_introspection;
        if !active {
            return serde_json::json!({ "active": false });
        }
        client.counters.introspections_active += 1;
        let mailbox = &client.spec.mailbox;
        // Flat on purpose: Dovecot 2.3 skips nested values.
        serde_json::json!({
            "active": true,
            "username": mailbox,
            "email": mailbox,
            "sub": mailbox,
            "client_id": record.client_id,
            "scope": record.scope.clone().unwrap_or_default(),
            "token_type": "Bearer",
            "exp": record.expires_unix,
            "iat": record.issued_unix,
        })
    }

    // ------------------------------------------------------------ issuing

    fn issue(
        &mut self,
        spec: &ClientSpec,
        scope: Option<String>,
        with_refresh: bool,
        now: Instant,
    ) -> TokenResponse {
        let token = format!("vmail-at-{}", random_hex(32));
        let lifetime = spec.token_lifetime_secs;
        let issued_unix = jwt::unix_now();
        self.access.insert(
            token.clone(),
            AccessRecord {
                client_id: spec.client_id.clone(),
                scope: scope.clone(),
                expires: now + Duration::from_secs(lifetime),
                expires_unix: issued_unix + lifetime,
                issued_unix,
                revoked: false,
            },
        );
        let refresh_token =
            with_refresh.then(|| self.new_refresh(&spec.client_id, scope.clone(), None));
        TokenResponse {
            access_token: token,
            token_type: "Bearer".to_owned(),
            expires_in: lifetime,
            scope,
            refresh_token,
        }
    }

    fn new_refresh(
        &mut self,
        id: &str,
        scope: Option<String>,
        predecessor: Option<String>,
    ) -> String {
        let token = format!("vmail-rt-{}", random_hex(32));
        self.refresh.insert(
            token.clone(),
            RefreshRecord {
                client_id: id.to_owned(),
                scope,
                state: RefreshState::Live,
                predecessor,
            },
        );
        token
    }
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.r#gen::<u8>()))
        .collect()
}
