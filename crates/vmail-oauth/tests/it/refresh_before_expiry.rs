//! The token is refreshed 5 minutes before it expires, not at expiry and
//! not before; the clock is the test's.

use crate::helpers::*;
use crate::server::{Response, TokenServer};
use std::time::Duration;
use vmail_core::{OAuthGrant, TokenSource};

#[tokio::test]
async fn refreshed_five_minutes_before_expiry() {
    let server = TokenServer::start(|_, n| Response::token(&format!("at-{n}"), 3600, None)).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = key_pair(dir.path());
    let clock = ManualClock::new();
    let settings = settings(server.url("/token"), OAuthGrant::ClientCredentials);
    let client = client(settings, &dir.path().join("oauth"), key, clock.clone());

    assert_eq!(client.token(false).await.unwrap().token.expose(), "at-1");
    clock.advance(Duration::from_secs(3600 - 301));
    assert_eq!(client.token(false).await.unwrap().token.expose(), "at-1");
    assert_eq!(server.count(), 1, "5 min 1 s before expiry: still cached");
    clock.advance(Duration::from_secs(2));
    assert_eq!(client.token(false).await.unwrap().token.expose(), "at-2");
    assert_eq!(server.count(), 2, "4 min 59 s before expiry: refreshed");
}

#[tokio::test]
async fn a_failed_early_refresh_keeps_the_token_that_still_holds() {
    let server = TokenServer::start(|_, n| {
        if n == 1 {
            Response::token("at-1", 3600, None)
        } else {
            Response::error(503, "temporarily_unavailable", "busy")
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = key_pair(dir.path());
    let clock = ManualClock::new();
    let settings = settings(server.url("/token"), OAuthGrant::ClientCredentials);
    let client = client(settings, &dir.path().join("oauth"), key, clock.clone());
    client.token(false).await.unwrap();
    clock.advance(Duration::from_secs(3600 - 60));
    assert_eq!(client.token(false).await.unwrap().token.expose(), "at-1");
    let status = vmail_oauth::status(&dir.path().join("oauth")).unwrap();
    assert_eq!(status.last_refresh.unwrap().result, "server_error");
    clock.advance(Duration::from_secs(61));
    let err = client.token(false).await.unwrap_err();
    assert_eq!(err.kind, vmail_core::TokenErrorKind::ServerError);
}
