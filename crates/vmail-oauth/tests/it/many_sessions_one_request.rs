//! Eight sessions that need a token at once cause one request; a forced
//! refresh by all of them causes one more, not eight; the client counts
//! the requests (vmaild's `vmail_oauth_token_requests_total`).

use crate::helpers::*;
use crate::server::{Response, TokenServer};
use std::sync::Arc;
use vmail_core::{OAuthGrant, TokenSource};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_calls_make_one_request() {
    let server = TokenServer::start_gated(|req, n| {
        assert_eq!(req.get("grant_type"), "client_credentials");
        Response::token(&format!("at-{n}"), 3600, None)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = key_pair(dir.path());
    let settings = settings(server.url("/token"), OAuthGrant::ClientCredentials);
    let client = Arc::new(client(
        settings,
        &dir.path().join("oauth"),
        key,
        ManualClock::new(),
    ));

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.token(false).await }));
    }
    // The first request is held at the server while the others queue up.
    server.wait_for_requests(1).await;
    server.release(100);
    for task in tasks {
        let token = task.await.unwrap().unwrap();
        assert_eq!(token.token.expose(), "at-1");
    }
    assert_eq!(server.count(), 1);
    let form = &server.requests()[0];
    assert_eq!(form.get("client_id"), "vmail-test-app");
    assert_eq!(form.get("client_secret"), CLIENT_SECRET);
    assert_eq!(form.get("scope"), "smtp.send offline_access");
    assert!(
        !form.raw.to_ascii_lowercase().contains("authorization:"),
        "the client authenticates in the body (client_secret_post)"
    );

    // All eight are refused by the server at once: one new request.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.token(true).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().token.expose(), "at-2");
    }
    assert_eq!(server.count(), 2);
    // And a later forced refresh fetches anew once.
    assert_eq!(client.token(true).await.unwrap().token.expose(), "at-3");
    assert_eq!(client.token(false).await.unwrap().token.expose(), "at-3");
    assert_eq!(server.count(), 3);
    // vmaild's metrics count the requests, not the tokens handed out.
    assert_eq!(client.token_requests(), (3, 0));
    assert!(client.is_same(&Arc::clone(&client)));
}
