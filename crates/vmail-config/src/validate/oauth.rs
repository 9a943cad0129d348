//! `[VMAIL] oauth-*`: how vmail obtains the OAuth2 access token it logs in
//! with (XOAUTH2, OAUTHBEARER). The provider's defaults (token and device
//! URLs, scope) are filled in here, so the token client never guesses and an
//! administrator sees every missing or wrong key at once, with its line.

use super::{Ctx, KeyRing, Section, Set};
use crate::invalid::Invalid;
use crate::values;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use vmail_core::{OAuthGrant, OAuthProvider, OAuthSettings, Secret};

const V: &str = "VMAIL";

/// Every `oauth-*` key, in the order the documentation lists them.
pub(super) const OAUTH_KEYS: &[&str] = &[
    "oauth-provider",
    "oauth-grant",
    "oauth-tenant",
    "oauth-client-id",
    "oauth-client-secret",
    "oauth-key-file",
    "oauth-user",
    "oauth-scope",
    "oauth-token-url",
    "oauth-device-url",
];

/// The line of the first `oauth-*` key that is set, if any.
pub(super) fn first_line(vmail: &Section) -> Option<usize> {
    OAUTH_KEYS
        .iter()
        .filter_map(|k| vmail.get(k).map(|e| e.line))
        .min()
}

/// Microsoft's scope for an app that sends as a mailbox with its own
/// credentials (the Exchange Online resource with the app's permissions).
pub const MICROSOFT_APP_SCOPE: &str = "https://outlook.office365.com/.default";
/// Microsoft's scope for a delegated mailbox (refresh tokens need offline_access).
pub const MICROSOFT_DELEGATED_SCOPE: &str = "https://outlook.office.com/SMTP.Send offline_access";
/// Google's one scope for SMTP.
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_DEVICE_URL: &str = "https://oauth2.googleapis.com/device/code";

/// Validates the `oauth-*` keys and fills the provider's defaults. `line`
/// is where a missing key is reported (the auth-type line, or the first
/// oauth key). `None` when something is wrong (the errors are recorded).
pub(super) fn settings(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    keys: &mut KeyRing,
    line: Option<usize>,
    ca_file: Option<PathBuf>,
) -> Option<OAuthSettings> {
    let errors_before = cx.errors.len();
    let provider = match cx.get(vmail, "oauth-provider", provider) {
        Some(p) => Some(p.value),
        None if vmail.get("oauth-provider").is_some() => None,
        None => {
            let msg = format!(
                "is not set, and the OAuth login needs it ({})",
                OAuthProvider::ALLOWED
            );
            cx.error(line, V, "oauth-provider", msg);
            None
        }
    };
    let default_grant = match provider {
        Some(OAuthProvider::Google) => OAuthGrant::ServiceAccount,
        _ => OAuthGrant::ClientCredentials,
    };
    let grant = match cx.get(vmail, "oauth-grant", grant) {
        Some(g) => Some(g.value),
        None if vmail.get("oauth-grant").is_some() => None,
        None => Some(default_grant),
    };
    let tenant = tenant(cx, vmail, provider, line);
    // What a grant needs is checked only when the grant is known: a typo in
    // oauth-grant is one error, not three.
    let (client_id, client_secret, key_file) = match grant {
        Some(grant) => (
            client_id(cx, vmail, grant, line),
            client_secret(cx, vmail, keys, grant, line),
            key_file(cx, vmail, grant, line),
        ),
        None => (
            client_id(cx, vmail, OAuthGrant::ServiceAccount, line),
            None,
            None,
        ),
    };
    let grant = grant.unwrap_or(default_grant);
    let user = match cx.get(vmail, "oauth-user", values::address) {
        Some(u) => u.value,
        None => {
            if vmail.get("oauth-user").is_none() {
                let msg = "is not set (the mailbox vmail sends as: user= of XOAUTH2, a= of OAUTHBEARER, sub of a service-account assertion)";
                cx.error(line, V, "oauth-user", msg);
            }
            String::new()
        }
    };
    let scope = cx
        .get(vmail, "oauth-scope", scope)
        .map(|s| s.value)
        .unwrap_or_else(|| default_scope(provider, grant).to_string());
    let (token_url, device_url) = urls(cx, vmail, provider, tenant.as_deref(), line);
    if cx.errors.len() > errors_before {
        return None;
    }
    Some(OAuthSettings {
        provider: provider?,
        grant,
        tenant,
        client_id,
        client_secret,
        key_file,
        user,
        scope,
        token_url: token_url?,
        device_url,
        ca_file,
    })
}

fn provider(value: &str) -> Result<OAuthProvider, Invalid> {
    OAuthProvider::parse(value).ok_or_else(|| Invalid::OAuthProvider {
        value: value.to_string(),
    })
}

fn grant(value: &str) -> Result<OAuthGrant, Invalid> {
    OAuthGrant::parse(value).ok_or_else(|| Invalid::OAuthGrant {
        value: value.to_string(),
    })
}

fn scope(value: &str) -> Result<String, Invalid> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words
        .iter()
        .any(|w| w.contains(|c: char| c.is_control() || c == '"' || c == '\\'))
    {
        return Err(Invalid::Scopes {
            value: value.to_string(),
        });
    }
    Ok(words.join(" "))
}

fn default_scope(provider: Option<OAuthProvider>, grant: OAuthGrant) -> &'static str {
    match (provider, grant) {
        (Some(OAuthProvider::Microsoft), OAuthGrant::RefreshToken) => MICROSOFT_DELEGATED_SCOPE,
        (Some(OAuthProvider::Microsoft), _) => MICROSOFT_APP_SCOPE,
        (Some(OAuthProvider::Google), _) => GOOGLE_SCOPE,
        (Some(OAuthProvider::Generic) | None, _) => "",
    }
}

fn tenant(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    provider: Option<OAuthProvider>,
    line: Option<usize>,
) -> Option<String> {
    let set = cx.get(vmail, "oauth-tenant", tenant_value);
    match (provider, set) {
        (Some(OAuthProvider::Microsoft), Some(t)) => Some(t.value),
        (Some(OAuthProvider::Microsoft), None) => {
            let urls_given =
                vmail.get("oauth-token-url").is_some() && vmail.get("oauth-device-url").is_some();
            if vmail.get("oauth-tenant").is_none() && !urls_given {
                let msg = "is not set, and oauth-provider = microsoft needs it (the Directory (tenant) ID or a verified domain, for example contoso.onmicrosoft.com)";
                cx.error(line, V, "oauth-tenant", msg);
            }
            None
        }
        (Some(other), Some(Set { line, .. })) => {
            let msg = format!("is ignored because oauth-provider = {other}");
            cx.warn(line, V, "oauth-tenant", msg);
            None
        }
        (None, _) | (Some(_), None) => None,
    }
}

fn tenant_value(value: &str) -> Result<String, Invalid> {
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok && !value.starts_with(['.', '-']) {
        Ok(value.to_string())
    } else {
        Err(Invalid::Tenant {
            value: value.to_string(),
        })
    }
}

fn client_id(cx: &mut Ctx<'_>, vmail: &Section, grant: OAuthGrant, line: Option<usize>) -> String {
    let id = cx.get(vmail, "oauth-client-id", |v| {
        if v.contains(|c: char| c.is_whitespace() || c.is_control()) {
            Err(Invalid::ClientId {
                value: v.to_string(),
            })
        } else {
            Ok(v.to_string())
        }
    });
    match id {
        Some(id) => id.value,
        // The service account's key file names its client.
        None if grant == OAuthGrant::ServiceAccount => String::new(),
        None => {
            if vmail.get("oauth-client-id").is_none() {
                let msg = "is not set (the Application (client) ID of the app registration)";
                cx.error(line, V, "oauth-client-id", msg);
            }
            String::new()
        }
    }
}

fn client_secret(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    keys: &mut KeyRing,
    grant: OAuthGrant,
    line: Option<usize>,
) -> Option<Secret> {
    const KEY: &str = "oauth-client-secret";
    match grant {
        OAuthGrant::ServiceAccount => {
            if let Some(entry) = vmail.get(KEY) {
                let msg =
                    "is ignored because oauth-grant = service-account signs with oauth-key-file";
                cx.warn(entry.line, V, KEY, msg);
            }
            None
        }
        OAuthGrant::ClientCredentials if vmail.get(KEY).is_none() => {
            let msg = "is not set, and oauth-grant = client-credentials needs it (the secret's Value from the app registration; set it with `vfxadmin config -a -p -e VMAIL oauth-client-secret`)";
            cx.error(line, V, KEY, msg);
            None
        }
        OAuthGrant::ClientCredentials | OAuthGrant::RefreshToken => {
            let secret = super::smtp::open_secret(cx, vmail, KEY, keys)?;
            if secret.is_empty() {
                return None;
            }
            Some(secret)
        }
    }
}

fn key_file(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    grant: OAuthGrant,
    line: Option<usize>,
) -> Option<PathBuf> {
    const KEY: &str = "oauth-key-file";
    let entry = vmail.get(KEY);
    if grant != OAuthGrant::ServiceAccount {
        if let Some(entry) = entry {
            let msg = format!("is ignored because oauth-grant = {grant}");
            cx.warn(entry.line, V, KEY, msg);
        }
        return None;
    }
    let Some(entry) = entry else {
        let msg = "is not set, and oauth-grant = service-account needs it (the service account's JSON key from the Google Cloud console, mode 0600)";
        cx.error(line, V, KEY, msg);
        return None;
    };
    let path = cx.path_value(&entry.value);
    match check_key_file(&path) {
        Ok(()) => Some(path),
        Err(invalid) => {
            cx.error(Some(entry.line), V, KEY, invalid.to_string());
            None
        }
    }
}

/// The key file must be private and look like a service account's key. The
/// message never quotes the file's contents.
fn check_key_file(path: &std::path::Path) -> Result<(), Invalid> {
    let unreadable = |source| Invalid::KeyFileUnreadable {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Invalid::KeyFileNotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Invalid::KeyFileShared {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| not_a_key(path))?;
    let field = |name: &str| json.get(name).and_then(|v| v.as_str()).unwrap_or("");
    if field("client_email").is_empty() || !field("private_key").contains("PRIVATE KEY-----") {
        return Err(not_a_key(path));
    }
    Ok(())
}

fn not_a_key(path: &std::path::Path) -> Invalid {
    Invalid::NotAServiceAccountKey {
        path: path.to_path_buf(),
    }
}

/// The token URL and device URL: configured, else the provider's.
fn urls(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    provider: Option<OAuthProvider>,
    tenant: Option<&str>,
    line: Option<usize>,
) -> (Option<String>, Option<String>) {
    let token = cx
        .get(vmail, "oauth-token-url", endpoint_url)
        .map(|s| s.value);
    let device = cx
        .get(vmail, "oauth-device-url", endpoint_url)
        .map(|s| s.value);
    let microsoft = |what: &str| {
        tenant.map(|t| format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/{what}"))
    };
    let (token_default, device_default) = match provider {
        Some(OAuthProvider::Microsoft) => (microsoft("token"), microsoft("devicecode")),
        Some(OAuthProvider::Google) => (
            Some(GOOGLE_TOKEN_URL.to_string()),
            Some(GOOGLE_DEVICE_URL.to_string()),
        ),
        Some(OAuthProvider::Generic) | None => (None, None),
    };
    let token = token.or(token_default);
    if token.is_none()
        && provider == Some(OAuthProvider::Generic)
        && vmail.get("oauth-token-url").is_none()
    {
        let msg = "is not set, and oauth-provider = generic has no default (the token endpoint, https://...)";
        cx.error(line, V, "oauth-token-url", msg);
    }
    (token, device.or(device_default))
}

/// An endpoint URL: `https://host/...`, or `http://` on a loopback address
/// only (a test server on this machine): a token or a client secret must
/// never cross a network in clear.
pub(crate) fn endpoint_url(value: &str) -> Result<String, Invalid> {
    let not_url = || Invalid::Url {
        value: value.to_string(),
    };
    let (scheme, rest) = value.split_once("://").ok_or_else(not_url)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host_of(authority);
    if host.is_empty() || value.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(not_url());
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(value.to_string()),
        "http" if is_loopback(host) => Ok(value.to_string()),
        "http" => Err(Invalid::UrlInClear {
            value: value.to_string(),
        }),
        _ => Err(not_url()),
    }
}

/// The host of `user@host:port` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_only_on_loopback() {
        assert!(endpoint_url("https://login.example.com/t/token").is_ok());
        assert!(endpoint_url("http://127.0.0.1:8080/token").is_ok());
        assert!(endpoint_url("http://[::1]:8080/token").is_ok());
        assert!(endpoint_url("http://localhost/token").is_ok());
        assert!(endpoint_url("http://10.0.0.1/token").is_err());
        assert!(endpoint_url("http://127.0.0.1.evil.example/token").is_err());
        assert!(endpoint_url("http://user@127.0.0.1/token").is_ok());
        assert!(endpoint_url("ftp://127.0.0.1/token").is_err());
        assert!(endpoint_url("token").is_err());
        assert!(endpoint_url("https:///token").is_err());
    }
}
