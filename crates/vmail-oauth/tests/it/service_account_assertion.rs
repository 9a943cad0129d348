//! Google's service-account grant: a JWT signed RS256 with the key file's
//! private key, iss = client_email, sub = the mailbox, aud = the token URL,
//! checked at the server with the public key.

use crate::helpers::*;
use crate::server::{Response, TokenServer};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use vmail_core::{OAuthGrant, TokenErrorKind, TokenSource};

const PRIVATE: &str = include_str!("fixtures/sa-test-key.pem");
const PUBLIC: &str = include_str!("fixtures/sa-test-pub.pem");

#[tokio::test]
async fn the_assertion_is_signed_and_names_the_mailbox() {
    let claims = Arc::new(Mutex::new(None));
    let seen = claims.clone();
    let server = TokenServer::start(move |req, _| {
        assert_eq!(
            req.get("grant_type"),
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        );
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_aud = false;
        let data =
            jsonwebtoken::decode::<serde_json::Value>(req.get("assertion"), &key, &validation)
                .expect("signature checks with the public key");
        assert_eq!(data.header.kid.as_deref(), Some("kid-1"));
        *seen.lock().unwrap() = Some(data.claims);
        Response::token("at-sa", 3600, None)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("sa.json");
    let json = serde_json::json!({
        "type": "service_account",
        "client_email": "fax@vmail-test.iam.gserviceaccount.com",
        "private_key_id": "kid-1",
        "private_key": PRIVATE,
    });
    std::fs::write(&key_file, json.to_string()).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (key, _) = key_pair(dir.path());
    let mut settings = settings(server.url("/token"), OAuthGrant::ServiceAccount);
    settings.key_file = Some(key_file.clone());
    settings.scope = "https://mail.google.com/".into();
    let cache = dir.path().join("oauth");
    let client = client(settings.clone(), &cache, key, ManualClock::new());

    assert_eq!(client.token(false).await.unwrap().token.expose(), "at-sa");
    let claims = claims.lock().unwrap().clone().unwrap();
    assert_eq!(claims["iss"], "fax@vmail-test.iam.gserviceaccount.com");
    assert_eq!(claims["sub"], "fax@example.com");
    assert_eq!(claims["aud"], settings.token_url.as_str());
    assert_eq!(claims["scope"], "https://mail.google.com/");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    let body = PRIVATE
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .nth(3)
        .unwrap()
        .to_string();
    assert_no_secret_in(&cache, &["at-sa", &body]);

    // A key file that others may read is refused before anything is signed.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = client.token(true).await.unwrap_err();
    assert_eq!(err.kind, TokenErrorKind::NotConfigured);
    assert_eq!(
        err.summary,
        format!(
            "cannot use oauth-key-file {0}: it may be read by group or others (mode 0644); run `chmod 600 {0}`",
            key_file.display()
        )
    );
    assert_eq!(server.count(), 1);
}
