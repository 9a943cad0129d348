//! The token endpoint over HTTPS: trusted through `ca-file`, and refused
//! with advice naming ca-file when its CA is unknown.

use crate::helpers::*;
use crate::server::{Response, TokenServer};
use vmail_core::{OAuthGrant, TokenErrorKind, TokenSource};

#[tokio::test]
async fn an_endpoint_signed_by_the_ca_file_is_trusted_and_an_unknown_ca_is_not() {
    let (server, ca_pem) =
        TokenServer::start_tls(|_, _| Response::token("at-tls", 3600, None)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let url = server.url("/token");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let (key, key2) = key_pair(dir.path());
    let mut trusted = settings(url.clone(), OAuthGrant::ClientCredentials);
    trusted.ca_file = Some(ca_file);
    let client1 = client(trusted, &dir.path().join("a"), key, ManualClock::new());
    assert_eq!(client1.token(false).await.unwrap().token.expose(), "at-tls");

    let untrusted = settings(url.clone(), OAuthGrant::ClientCredentials);
    let client2 = client(untrusted, &dir.path().join("b"), key2, ManualClock::new());
    let err = client2.token(false).await.unwrap_err();
    assert_eq!(err.kind, TokenErrorKind::Unreachable);
    assert_eq!(
        err.summary,
        format!("cannot reach the token endpoint {url}: invalid peer certificate: UnknownIssuer")
    );
    assert_eq!(
        err.advice.as_deref(),
        Some(
            "the token endpoint's certificate is not trusted: put its CA in ca-file, or check oauth-token-url; the jobs wait and are retried"
        )
    );
    assert_eq!(server.count(), 1, "the untrusted handshake sent no request");
}
