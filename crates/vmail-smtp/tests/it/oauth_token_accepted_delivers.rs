//! A token the server accepts: delivered after one AUTH with the initial
//! response in the mechanism's exact format, the token fetched once (not
//! forced), and shown nowhere.
use crate::common;
use common::oauth::{self, FakeTokens, MAILBOX};
use std::sync::Arc;
use vmail_core::AuthType;
use vmail_smtp::{Mechanism, Submitter};
use vmail_testkit::fault::{FaultServer, Script};

const TOKEN: &str = "ya29.accepted-token-0123456789";

fn script() -> Script {
    oauth::script(&["PIPELINING", "AUTH PLAIN XOAUTH2 OAUTHBEARER"], &[TOKEN])
}

#[tokio::test]
async fn xoauth2_delivers_with_one_token_request() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&[TOKEN]));
    let report = oauth::send(oauth::settings(server.port(), AuthType::XOAuth2), &tokens).await;
    common::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::XOAuth2));
    assert_eq!(tokens.calls(), vec![false]);
    assert_eq!(
        oauth::auth_lines(&server.commands()),
        vec![(
            "XOAUTH2".to_string(),
            format!("user={MAILBOX}\x01auth=Bearer {TOKEN}\x01\x01").into_bytes()
        )]
    );
    // The forms searched for are the ones that went on the wire.
    let wire = oauth::token_forms(TOKEN, server.port());
    assert!(
        server
            .commands()
            .contains(&format!("AUTH XOAUTH2 {}", wire[2]))
    );
    let transcript = report.transcript.to_string();
    assert!(
        transcript.contains("C: AUTH XOAUTH2 <redacted>\n"),
        "{transcript}"
    );
    oauth::assert_no_token(&report, &[TOKEN], server.port());
    Ok(())
}

#[tokio::test]
async fn oauthbearer_names_the_mailbox_host_and_port() -> std::io::Result<()> {
    let server = FaultServer::start(script()).await?;
    let tokens = Arc::new(FakeTokens::handing_out(&[TOKEN]));
    let port = server.port();
    let report = Submitter::new(oauth::settings(port, AuthType::OAuthBearer))
        .with_tokens(tokens.clone())
        .send(vec![
            common::simple(&["a@example.test"]),
            common::simple(&["b@example.test"]),
        ])
        .await;
    common::assert_delivered(&report);
    assert_eq!(report.authenticated, Some(Mechanism::OAuthBearer));
    // Two messages, one login, one token.
    assert_eq!(tokens.calls(), vec![false]);
    assert_eq!(
        oauth::auth_lines(&server.commands()),
        vec![(
            "OAUTHBEARER".to_string(),
            format!(
                "n,a={MAILBOX},\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {TOKEN}\x01\x01"
            )
            .into_bytes()
        )]
    );
    let wire = oauth::token_forms(TOKEN, port);
    assert!(
        server
            .commands()
            .contains(&format!("AUTH OAUTHBEARER {}", wire[3]))
    );
    assert!(
        report
            .transcript
            .to_string()
            .contains("C: AUTH OAUTHBEARER <redacted>\n")
    );
    oauth::assert_no_token(&report, &[TOKEN], port);
    Ok(())
}
