//! The token is cached sealed in the cache directory (0700, files 0600)
//! and a second client on the same directory (a restarted vmaild) uses it
//! without a request; the cache holds no secret in any readable form.

use crate::helpers::*;
use crate::server::{Response, TokenServer};
use vmail_core::{OAuthGrant, TokenSource};

const ACCESS: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.access-token-4711";

#[tokio::test]
async fn a_second_client_reuses_the_sealed_cache() {
    let server = TokenServer::start(|_, _| Response::token(ACCESS, 3600, None)).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("oauth");
    let (key, key2) = key_pair(dir.path());
    let settings = settings(server.url("/token"), OAuthGrant::ClientCredentials);
    let clock = ManualClock::new();

    let first = client(settings.clone(), &cache, key, clock.clone());
    let token = first.token(false).await.unwrap();
    assert_eq!(token.token.expose(), ACCESS);
    drop(first);

    let again = client(settings.clone(), &cache, key2, clock.clone());
    let token2 = again.token(false).await.unwrap();
    assert_eq!(token2, token, "same token, same expiry");
    assert_eq!(server.count(), 1, "the restart made no request");

    assert_eq!(mode(&cache), 0o700);
    for name in vmail_oauth::CACHE_FILES {
        let path = cache.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    let sealed = std::fs::read_to_string(cache.join("access-token")).unwrap();
    assert!(sealed.starts_with("enc:v1:"), "{sealed}");
    assert_no_secret_in(&cache, &[ACCESS, CLIENT_SECRET]);

    let status = vmail_oauth::status(&cache).unwrap();
    let last = status.last_refresh.unwrap();
    assert_eq!(last.result, "ok");
    assert_eq!(last.grant, "client-credentials");
    assert_eq!(last.expires_at_time(), Some(token.expires_at));
    assert!(status.access_token_cached);
    assert!(!status.refresh_token_stored);

    // A changed mailbox is never served the old mailbox's token.
    let mut other = settings.clone();
    other.user = "other@example.com".to_string();
    let (_, key3) = key_pair(dir.path());
    let third = client(other, &cache, key3, clock);
    third.token(false).await.unwrap();
    assert_eq!(server.count(), 2);

    let removed = vmail_oauth::forget(&cache).unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
    let status = vmail_oauth::status(&cache).unwrap();
    assert!(!status.access_token_cached && status.last_refresh.is_none());
}

#[tokio::test]
async fn a_cache_dir_open_to_others_is_closed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("oauth");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (key, _) = key_pair(dir.path());
    let settings = settings(
        "http://127.0.0.1:9/token".into(),
        OAuthGrant::ClientCredentials,
    );
    let _client = client(settings, &cache, key, ManualClock::new());
    assert_eq!(mode(&cache), 0o700);
}
