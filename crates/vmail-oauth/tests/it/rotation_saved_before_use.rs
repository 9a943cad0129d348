//! A rotated refresh token is saved durably before the new access token is
//! handed out: when it cannot be saved, the access token is not used and
//! the old refresh token stays, so a crash between the answer and the save
//! never leaves the relay without a refresh token the server knows.

use crate::helpers::*;
use crate::server::{Response, TokenServer};
use std::path::Path;
use vmail_config::secrets::Key;
use vmail_core::{OAuthGrant, Secret, TokenErrorKind, TokenSource};

fn stored_refresh(cache: &Path, key: &Key) -> String {
    let sealed = std::fs::read_to_string(cache.join("refresh-token")).unwrap();
    let plain = vmail_config::secrets::open(key, sealed.trim()).unwrap();
    let json: serde_json::Value = serde_json::from_str(plain.expose()).unwrap();
    json["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_rotated_token_is_on_disk_before_the_access_token_is_used() {
    let server = TokenServer::start(|req, n| {
        assert_eq!(req.get("grant_type"), "refresh_token");
        Response::token(&format!("at-{n}"), 3600, Some(&format!("rt-{}", n + 1)))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("oauth");
    let (key, key2) = key_pair(dir.path());
    let settings = settings(server.url("/token"), OAuthGrant::RefreshToken);
    vmail_oauth::store_refresh_token(&settings, &cache, &key2, &Secret::new("rt-1")).unwrap();
    let client = client(settings, &cache, key, ManualClock::new());

    // The save fails (a directory squats on its temp name): the access
    // token of that answer is not handed out, and rt-1 stays.
    let squat = cache.join(format!(".refresh-token.tmp.{}", std::process::id()));
    std::fs::create_dir(&squat).unwrap();
    let err = client.token(false).await.unwrap_err();
    assert_eq!(err.kind, TokenErrorKind::NotConfigured);
    assert!(
        err.summary
            .starts_with("cannot save the new refresh token: "),
        "{}",
        err.summary
    );
    assert_eq!(stored_refresh(&cache, &key2), "rt-1");
    assert!(!cache.join("access-token").exists());

    std::fs::remove_dir(&squat).unwrap();
    let token = client.token(false).await.unwrap();
    assert_eq!(token.token.expose(), "at-2");
    assert_eq!(stored_refresh(&cache, &key2), "rt-3");
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.get("refresh_token").to_string())
        .collect();
    assert_eq!(sent, ["rt-1", "rt-1"]);

    // The next refresh uses the rotated token.
    client.token(true).await.unwrap();
    assert_eq!(server.requests()[2].get("refresh_token"), "rt-3");
    assert_eq!(stored_refresh(&cache, &key2), "rt-4");
    assert_no_secret_in(
        &cache,
        &["rt-1", "rt-3", "rt-4", "at-2", "at-3", CLIENT_SECRET],
    );
}

#[tokio::test]
async fn without_a_stored_refresh_token_the_advice_is_to_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = key_pair(dir.path());
    let settings = settings("http://127.0.0.1:9/token".into(), OAuthGrant::RefreshToken);
    let cache = dir.path().join("oauth");
    let client = client(settings, &cache, key, ManualClock::new());
    let err = client.token(false).await.unwrap_err();
    assert_eq!(err.kind, TokenErrorKind::NotConfigured);
    assert_eq!(
        err.summary,
        format!("no refresh token is stored in {}", cache.display())
    );
    assert_eq!(
        err.advice.as_deref(),
        Some("run `vfxadmin oauth login` (oauth-grant = refresh-token) as the user vmaild runs as")
    );
}
