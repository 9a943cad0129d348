//! The device authorization grant (RFC 8628) of the [`Registry`]: codes,
//! their approval by tests, and the polling rules (`slow_down` when early).

use std::time::{Duration, Instant};

use rand::Rng as _;

use super::super::error::{OAuthError, ServiceError};
use super::super::types::{ClientSpec, DeviceAuthorization, Grant, TokenResponse};
use super::{Answer, Registry, TokenRequest, random_hex};

/// What the polling client is told to add to its interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// A poll this much early is still on time (client timers are not exact).
const POLL_TOLERANCE: Duration = Duration::from_millis(250);

pub(super) struct DeviceRecord {
    client_id: String,
    user_code: String,
    scope: Option<String>,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    status: DeviceStatus,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    Used,
}

impl Registry {
    /// Approves (or denies) the client's pending device codes: the one with
    /// `user_code`, or all of them. Returns how many.
    pub fn decide_device(
        &mut self,
        id: &str,
        user_code: Option<&str>,
        approve: bool,
    ) -> Result<usize, ServiceError> {
        self.client_mut(id)?;
        let mut decided = 0;
        for device in self.devices.values_mut().filter(|d| {
            d.client_id == id
                && d.status == DeviceStatus::Pending
                && user_code.is_none_or(|code| code.eq_ignore_ascii_case(&d.user_code))
        }) {
            device.status = if approve {
                DeviceStatus::Approved
            } else {
                DeviceStatus::Denied
            };
            decided += 1;
        }
        if decided == 0 {
            return Err(ServiceError::NoPendingDevice(id.to_owned()));
        }
        Ok(decided)
    }

    /// The user codes of the client's pending device authorizations.
    pub fn pending_user_codes(&mut self, id: &str) -> Result<Vec<String>, ServiceError> {
        self.client_mut(id)?;
        let mut codes: Vec<String> = self
            .devices
            .values()
            .filter(|d| d.client_id == id && d.status == DeviceStatus::Pending)
            .map(|d| d.user_code.clone())
            .collect();
        codes.sort();
        Ok(codes)
    }

    /// The next device poll of this client answers `slow_down`.
    pub fn slow_down_next_poll(&mut self, id: &str) -> Result<(), ServiceError> {
        self.client_mut(id)?.slow_down_next_poll = true;
        Ok(())
    }

    /// `POST /device` (RFC 8628 §3.1).
    pub fn device_authorization(
        &mut self,
        request: &TokenRequest,
        verification_uri: &str,
        now: Instant,
    ) -> Answer<DeviceAuthorization> {
        let id = match self.identify(request, Grant::DeviceCode) {
            Ok(id) => id,
            Err(error) => return Answer::Error(error),
        };
        if let Some(client) = self.clients.get_mut(&id) {
            client.counters.device_authorizations += 1;
        }
        if let Some(fault) = self.take_fault(&id, now) {
            self.count_error(&id);
            return Answer::Fault(fault);
        }
        let spec = match self.admit(&id, Grant::DeviceCode, request) {
            Ok(spec) => spec,
            Err(error) => {
                self.count_error(&id);
                return Answer::Error(error);
            }
        };
        let device_code = format!("vmail-dc-{}", random_hex(24));
        let user_code = random_user_code();
        let lifetime = Duration::from_secs(spec.device_code_lifetime_secs);
        self.devices.insert(
            device_code.clone(),
            DeviceRecord {
                client_id: id,
                user_code: user_code.clone(),
                scope: request.params.get("scope").cloned(),
                expires: now + lifetime,
                interval: Duration::from_secs(spec.device_interval_secs),
                last_poll: None,
                status: DeviceStatus::Pending,
            },
        );
        Answer::Ok(DeviceAuthorization {
            message: format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
            ),
            verification_uri_complete: format!("{verification_uri}?user_code={user_code}"),
            verification_uri: verification_uri.to_owned(),
            device_code,
            user_code,
            expires_in: lifetime.as_secs(),
            interval: spec.device_interval_secs,
        })
    }

    fn count_error(&mut self, id: &str) {
        if let Some(client) = self.clients.get_mut(id) {
            client.counters.token_errors += 1;
        }
    }

    /// The device access token request (RFC 8628 §3.4, §3.5).
    pub(super) fn device_grant(
        &mut self,
        spec: &ClientSpec,
        request: &TokenRequest,
        now: Instant,
    ) -> Result<TokenResponse, OAuthError> {
        let code = request
            .params
            .get("device_code")
            .ok_or_else(|| OAuthError::invalid_request("device_code is missing"))?;
        let slow_down_forced = self
            .clients
            .get_mut(&spec.client_id)
            .is_some_and(|c| std::mem::take(&mut c.slow_down_next_poll));
        let device = match self.devices.get_mut(code) {
            Some(d) if d.client_id == spec.client_id => d,
            _ => return Err(OAuthError::invalid_grant("the device code is unknown")),
        };
        if now >= device.expires {
            return Err(OAuthError::new(
                400,
                "expired_token",
                "the device code has expired".into(),
            ));
        }
        let too_early = device
            .last_poll
            .is_some_and(|last| now.duration_since(last) + POLL_TOLERANCE < device.interval);
        device.last_poll = Some(now);
        if slow_down_forced || too_early {
            device.interval += SLOW_DOWN_STEP;
            return Err(OAuthError::new(
                400,
                "slow_down",
                format!("poll at most every {} s", device.interval.as_secs()),
            ));
        }
        match device.status {
            DeviceStatus::Pending => Err(OAuthError::new(
                400,
                "authorization_pending",
                "the user has not yet approved the request".into(),
            )),
            DeviceStatus::Denied => Err(OAuthError::new(
                400,
                "access_denied",
                "the user denied the request".into(),
            )),
            DeviceStatus::Used => Err(OAuthError::invalid_grant(
                "the device code was already used",
            )),
            DeviceStatus::Approved => {
                device.status = DeviceStatus::Used;
                let scope = device.scope.clone();
                Ok(self.issue(spec, scope, true, now))
            }
        }
    }
}

/// Eight letters without vowels (no words), as `XXXX-XXXX` (RFC 8628 §6.1).
fn random_user_code() -> String {
    const LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut rng = rand::thread_rng();
    let letters: String = (0..8)
        .map(|_| char::from(LETTERS[rng.gen_range(0..LETTERS.len())]))
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}
