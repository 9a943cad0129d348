//! Google's service-account grant (RFC 7523): a JWT signed RS256 with the
//! service account's private key, `iss` the account, `sub` the mailbox
//! (domain-wide delegation), `aud` the token endpoint.

use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;
use vmail_core::{Secret, TokenError, TokenErrorKind};
use zeroize::Zeroizing;

/// How long an assertion is valid; Google accepts at most one hour.
const ASSERTION_LIFETIME: u64 = 3600;

/// The fields of the JSON key we use.
#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    scope: &'a str,
    iat: u64,
    exp: u64,
}

/// Signs the assertion. The private key is read when needed (a replaced
/// key file works without a restart) and zeroed after use.
pub(crate) fn assertion(
    key_file: &Path,
    user: &str,
    token_url: &str,
    scope: &str,
    now: SystemTime,
) -> Result<Secret, TokenError> {
    let key = read_key(key_file)?;
    let iat = crate::cache::unix(now);
    let claims = Claims {
        iss: &key.client_email,
        sub: user,
        aud: token_url,
        scope,
        iat,
        exp: iat + ASSERTION_LIFETIME,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.clone();
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
        .map_err(|_| key_error(key_file, "its private_key is not an RSA private key in PEM"))?;
    let jwt = jsonwebtoken::encode(&header, &claims, &signing)
        .map_err(|_| key_error(key_file, "its private key cannot sign (RS256)"))?;
    Ok(Secret::new(jwt))
}

struct Loaded {
    client_email: String,
    private_key: Zeroizing<String>,
    private_key_id: Option<String>,
}

fn read_key(path: &Path) -> Result<Loaded, TokenError> {
    let meta = std::fs::metadata(path).map_err(|e| key_error(path, &e.to_string()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(key_error(
            path,
            &format!(
                "it may be read by group or others (mode {mode:04o}); run `chmod 600 {}`",
                path.display()
            ),
        ));
    }
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| key_error(path, &e.to_string()))?);
    let parsed: KeyFile = serde_json::from_str(&text).map_err(|_| {
        key_error(
            path,
            "it is not a service account key (JSON with client_email and private_key)",
        )
    })?;
    Ok(Loaded {
        client_email: parsed.client_email,
        private_key: Zeroizing::new(parsed.private_key),
        private_key_id: parsed.private_key_id,
    })
}

fn key_error(path: &Path, why: &str) -> TokenError {
    TokenError {
        kind: TokenErrorKind::NotConfigured,
        summary: format!("cannot use oauth-key-file {}: {why}", path.display()),
        advice: Some(
            "set oauth-key-file to the service account's JSON key (mode 0600)".to_string(),
        ),
    }
}
