//! `vfxadmin oauth login` (RFC 8628): the code to show, polls at the
//! server's interval with 5 s more after `slow_down`, the refresh token
//! stored sealed on approval; expiry or cancellation writes nothing.

use crate::helpers::*;
use crate::server::{Request, Response, TokenServer};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vmail_core::{OAuthGrant, TokenErrorKind, TokenSource};
use vmail_oauth::device_login;

fn device_code(req: &Request) -> Response {
    assert_eq!(req.get("client_id"), "vmail-test-app");
    assert_eq!(req.get("scope"), "smtp.send offline_access");
    Response::json(
        200,
        serde_json::json!({
            "device_code": "dc-secret-42",
            "user_code": "WDJB-MJHT",
            "verification_uri": "https://login.example/device",
            "expires_in": 900,
            "interval": 2,
        }),
    )
}

fn pending(code: &str) -> Response {
    Response::error(400, code, "")
}

#[tokio::test]
async fn approved_after_pending_and_slow_down_stores_the_refresh_token() {
    let server = TokenServer::start(|req, n| {
        if req.path == "/device" {
            return device_code(req);
        }
        assert_eq!(
            req.get("grant_type"),
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(req.get("device_code"), "dc-secret-42");
        match n {
            2 => pending("authorization_pending"),
            3 => pending("slow_down"),
            4 => pending("authorization_pending"),
            _ => Response::token("at-device", 3600, Some("rt-device-1")),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("oauth");
    let (key, key2) = key_pair(dir.path());
    let settings = settings(server.url("/token"), OAuthGrant::RefreshToken);

    let login = device_login::start(&settings).await.unwrap();
    assert_eq!(login.verification_uri(), "https://login.example/device");
    assert_eq!(login.user_code(), "WDJB-MJHT");
    assert_eq!(login.interval(), Duration::from_secs(2));
    assert_eq!(login.expires_in(), Duration::from_secs(900));
    assert!(!format!("{login:?}").contains("dc-secret-42"));

    let slept = Arc::new(Mutex::new(Vec::new()));
    let record = slept.clone();
    login
        .poll_with_sleep(&cache, &key, move |d| {
            record.lock().unwrap().push(d.as_secs());
            std::future::ready(())
        })
        .await
        .unwrap();
    assert_eq!(
        *slept.lock().unwrap(),
        [2, 2, 7, 7],
        "interval, then +5 s after slow_down"
    );
    assert_eq!(server.count(), 5);
    assert_no_secret_in(
        &cache,
        &["rt-device-1", "at-device", "dc-secret-42", CLIENT_SECRET],
    );
    let status = vmail_oauth::status(&cache).unwrap();
    assert!(status.refresh_token_stored);
    assert_eq!(status.last_refresh.unwrap().grant, "device-code");

    // The daemon then uses what the login stored: the access token first.
    let client = client(settings, &cache, key2, ManualClock::new());
    assert_eq!(
        client.token(false).await.unwrap().token.expose(),
        "at-device"
    );
    assert_eq!(server.count(), 5);
}

#[tokio::test]
async fn an_expired_code_writes_nothing() {
    let server = TokenServer::start(|req, _| {
        if req.path == "/device" {
            device_code(req)
        } else {
            pending("expired_token")
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("oauth");
    let (key, _) = key_pair(dir.path());
    let settings = settings(server.url("/token"), OAuthGrant::RefreshToken);
    let login = device_login::start(&settings).await.unwrap();
    let err = login
        .poll_with_sleep(&cache, &key, |_| std::future::ready(()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, TokenErrorKind::Other);
    assert_eq!(
        err.summary,
        "the token endpoint refused the request: expired_token"
    );
    assert_eq!(
        err.advice.as_deref(),
        Some("the code was not entered in time: run `vfxadmin oauth login` again")
    );
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}

#[tokio::test]
async fn a_cancelled_login_writes_nothing() {
    let server = TokenServer::start(|req, _| {
        if req.path == "/device" {
            device_code(req)
        } else {
            pending("authorization_pending")
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("oauth");
    let (key, _) = key_pair(dir.path());
    let settings = settings(server.url("/token"), OAuthGrant::RefreshToken);
    let login = device_login::start(&settings).await.unwrap();
    // Ctrl-C: the poll is dropped after the third poll.
    tokio::select! {
        result = login.poll_with_sleep(&cache, &key, |_| tokio::task::yield_now()) => {
            panic!("the login ended on its own: {result:?}")
        }
        () = server.wait_for_requests(4) => {}
    }
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}
