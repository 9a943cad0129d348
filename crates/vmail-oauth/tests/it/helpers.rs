//! Settings, keys, a clock the test moves, and the search for secrets in
//! every file of the cache directory.

use base64::Engine as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use vmail_config::secrets::Key;
use vmail_core::{OAuthGrant, OAuthProvider, OAuthSettings, Secret};
use vmail_oauth::{Clock, OAuthClient};

pub const CLIENT_SECRET: &str = "cs-Very~Secret-4711";

pub fn settings(token_url: String, grant: OAuthGrant) -> OAuthSettings {
    OAuthSettings {
        provider: OAuthProvider::Generic,
        grant,
        tenant: None,
        client_id: "vmail-test-app".to_string(),
        client_secret: match grant {
            OAuthGrant::ServiceAccount => None,
            _ => Some(Secret::new(CLIENT_SECRET)),
        },
        key_file: None,
        user: "fax@example.com".to_string(),
        scope: "smtp.send offline_access".to_string(),
        device_url: Some(token_url.replace("/token", "/device")),
        token_url,
        ca_file: None,
    }
}

/// A fresh key file in `dir`, loaded twice: one for the client, one for the test.
pub fn key_pair(dir: &Path) -> (Key, Key) {
    let path = dir.join("vmail.key");
    let (a, _) = vmail_config::secrets::load_or_create_key(&path).unwrap();
    let b = vmail_config::secrets::load_key(&path).unwrap();
    (a, b)
}

#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(SystemTime::now())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

pub fn client(
    settings: OAuthSettings,
    cache: &Path,
    key: Key,
    clock: Arc<ManualClock>,
) -> OAuthClient {
    OAuthClient::with_clock(settings, cache, key, clock).unwrap()
}

/// Asserts that no file under `dir` holds any of `secrets`, in clear or in
/// any base64 form.
pub fn assert_no_secret_in(dir: &Path, secrets: &[&str]) {
    let mut forms: Vec<String> = Vec::new();
    for s in secrets {
        forms.push(s.to_string());
        for engine in [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            forms.push(engine.encode(s));
        }
    }
    let mut files = 0;
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        files += 1;
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{} holds a secret ({form})",
                entry.display()
            );
        }
    }
    assert!(files > 0, "nothing to search in {}", dir.display());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The mode bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
