//! Each failure of the token endpoint as the administrator reads it: the
//! kind, the summary and the advice naming the key, with Microsoft's
//! AADSTS numbers decoded. No secret in any of them.

use crate::helpers::*;
use crate::server::{Response, TokenServer};
use vmail_core::{OAuthGrant, TokenError, TokenErrorKind as K, TokenSource};

async fn failure_of(grant: OAuthGrant, respond: fn() -> Response) -> TokenError {
    let server = TokenServer::start(move |_, _| respond()).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, key2) = key_pair(dir.path());
    let settings = settings(server.url("/token"), grant);
    let cache = dir.path().join("oauth");
    if grant == OAuthGrant::RefreshToken {
        vmail_oauth::store_refresh_token(&settings, &cache, &key2, &"rt-secret-1".into()).unwrap();
    }
    let client = client(settings, &cache, key, ManualClock::new());
    let err = client.token(false).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(CLIENT_SECRET) && !shown.contains("rt-secret-1"),
        "{shown}"
    );
    // The status records the failure, and no secret either.
    let last = vmail_oauth::status(&cache).unwrap().last_refresh.unwrap();
    assert_eq!(last.summary.as_deref(), Some(err.summary.as_str()));
    assert_no_secret_in(&cache, &[CLIENT_SECRET, "rt-secret-1"]);
    err
}

fn check(err: &TokenError, kind: K, summary: &str, advice: &str) {
    assert_eq!(err.kind, kind, "{err:?}");
    assert_eq!(err.summary, summary);
    assert_eq!(err.advice.as_deref(), Some(advice));
}

const MS: &str = "the token endpoint refused the request";

#[tokio::test]
async fn aadsts_7000215_wrong_secret() {
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'x'.\r\nTrace ID: 1\r\nCorrelation ID: 2")
    })
    .await;
    check(
        &err,
        K::InvalidClient,
        &format!("{MS}: invalid_client (AADSTS7000215: the client secret is wrong)"),
        "oauth-client-secret is wrong: copy the secret's Value (not its Secret ID) from the app registration's Certificates & secrets and set it with `vfxadmin config -a -p -e VMAIL oauth-client-secret`",
    );
}

#[tokio::test]
async fn aadsts_7000222_expired_secret() {
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::error(
            401,
            "invalid_client",
            "AADSTS7000222: The provided client secret keys for app 'x' are expired.",
        )
    })
    .await;
    check(
        &err,
        K::InvalidClient,
        &format!("{MS}: invalid_client (AADSTS7000222: the client secret has expired)"),
        "create a new client secret under the app registration's Certificates & secrets and set oauth-client-secret with `vfxadmin config -a -p -e VMAIL oauth-client-secret`",
    );
}

#[tokio::test]
async fn aadsts_700016_unknown_app() {
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::error(400, "unauthorized_client", "AADSTS700016: Application with identifier 'x' was not found in the directory 'Contoso'.")
    })
    .await;
    check(
        &err,
        K::UnauthorizedClient,
        &format!(
            "{MS}: unauthorized_client (AADSTS700016: no application with this client ID in the tenant)"
        ),
        "check oauth-client-id (the Application (client) ID) and oauth-tenant (the Directory (tenant) ID the app is registered in)",
    );
}

#[tokio::test]
async fn aadsts_90002_unknown_tenant() {
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::error(
            400,
            "invalid_request",
            "AADSTS90002: Tenant 'contoso.example' not found.",
        )
    })
    .await;
    check(
        &err,
        K::InvalidClient,
        &format!("{MS}: invalid_request (AADSTS90002: the tenant does not exist)"),
        "check oauth-tenant (the Directory (tenant) ID, or a verified domain of the tenant)",
    );
}

#[tokio::test]
async fn aadsts_65001_no_consent() {
    let err = failure_of(OAuthGrant::RefreshToken, || {
        Response::error(
            400,
            "invalid_grant",
            "AADSTS65001: The user or administrator has not consented to use the application.",
        )
    })
    .await;
    check(
        &err,
        K::InvalidGrant,
        &format!("{MS}: invalid_grant (AADSTS65001: the app has not been granted consent)"),
        "grant admin consent to the app's API permissions (Entra ID > App registrations > API permissions); with oauth-grant = refresh-token run `vfxadmin oauth login` again",
    );
}

#[tokio::test]
async fn revoked_refresh_token() {
    let err = failure_of(OAuthGrant::RefreshToken, || {
        Response::error(400, "invalid_grant", "Token has been expired or revoked.")
    })
    .await;
    check(
        &err,
        K::InvalidGrant,
        &format!("{MS}: invalid_grant (Token has been expired or revoked.)"),
        "the stored refresh token was revoked or has expired: run `vfxadmin oauth login` again",
    );
}

#[tokio::test]
async fn wrong_client() {
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::error(401, "invalid_client", "")
    })
    .await;
    check(
        &err,
        K::InvalidClient,
        &format!("{MS}: invalid_client"),
        "check oauth-client-id and oauth-client-secret (set the secret with `vfxadmin config -a -p -e VMAIL oauth-client-secret`)",
    );
}

#[tokio::test]
async fn unauthorized_client_and_invalid_scope() {
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::json(400, serde_json::json!({"error": "unauthorized_client"}))
    })
    .await;
    check(
        &err,
        K::UnauthorizedClient,
        &format!("{MS}: unauthorized_client"),
        "the app may not use this grant: check oauth-grant, oauth-client-id and the app registration",
    );
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::error(400, "invalid_scope", "The requested scope is invalid.")
    })
    .await;
    check(
        &err,
        K::InvalidScope,
        &format!("{MS}: invalid_scope (The requested scope is invalid.)"),
        "check oauth-scope (Microsoft: https://outlook.office365.com/.default for client-credentials, https://outlook.office.com/SMTP.Send offline_access for refresh-token; Google: https://mail.google.com/)",
    );
}

#[tokio::test]
async fn server_errors_and_answers_that_are_not_tokens() {
    let err = failure_of(OAuthGrant::ClientCredentials, || Response {
        status: 502,
        content_type: "text/html",
        body: "<html>Bad Gateway</html>".into(),
    })
    .await;
    assert_eq!(err.kind, K::ServerError);
    assert!(
        err.summary.ends_with("/token answered HTTP 502"),
        "{}",
        err.summary
    );
    assert_eq!(
        err.advice.as_deref(),
        Some("the provider has a problem; the jobs wait and are retried")
    );
    let err = failure_of(OAuthGrant::ClientCredentials, || {
        Response::json(200, serde_json::json!({"hello": "world"}))
    })
    .await;
    assert_eq!(err.kind, K::ServerError);
    assert!(
        err.summary
            .ends_with("/token answered something that is not a token response"),
        "{}",
        err.summary
    );
}

#[tokio::test]
async fn an_endpoint_nobody_listens_on_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = key_pair(dir.path());
    let client = client(
        settings(url.clone(), OAuthGrant::ClientCredentials),
        &dir.path().join("oauth"),
        key,
        ManualClock::new(),
    );
    let err = client.token(false).await.unwrap_err();
    assert_eq!(err.kind, K::Unreachable);
    assert_eq!(
        err.summary,
        format!(
            "cannot reach the token endpoint {url}: tcp connect error: Connection refused (os error 111)"
        )
    );
    assert_eq!(
        err.advice.as_deref(),
        Some("check the network and oauth-token-url; the jobs wait and are retried")
    );
}
