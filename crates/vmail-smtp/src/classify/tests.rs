use super::*;
use crate::error::{RefusedRecipient, Step};
use crate::facts::SessionEffect;
use std::io;
use vmail_core::{EnhancedCode, Reply};

fn reply(code: u16, text: &str) -> Reply {
    let class = (code / 100) as u8;
    Reply::new(code, Some(EnhancedCode::new(class, 0, 0)), text)
}

fn io_error() -> io::Error {
    io::Error::other("boom")
}

/// One of every variant, with the outcome each must get.
fn every_variant() -> Vec<(SmtpError, &'static str)> {
    vec![
        (
            SmtpError::Connect {
                host: "h".into(),
                port: 25,
                source: io_error(),
            },
            "deferred",
        ),
        (
            SmtpError::Timeout {
                step: Step::Greeting,
                seconds: 0.5,
            },
            "deferred",
        ),
        (
            SmtpError::ConnectionClosed {
                step: Step::DataEnd,
            },
            "deferred",
        ),
        (
            SmtpError::Io {
                step: Step::Data,
                source: io_error(),
            },
            "deferred",
        ),
        (
            SmtpError::Protocol {
                step: Step::Ehlo,
                detail: crate::ProtocolError::AlreadyEncrypted,
            },
            "deferred",
        ),
        (
            SmtpError::Greeting {
                reply: reply(421, "busy"),
            },
            "deferred",
        ),
        (
            SmtpError::Greeting {
                reply: reply(554, "go away"),
            },
            "deferred",
        ),
        (
            SmtpError::Helo {
                reply: reply(502, "no"),
            },
            "deferred",
        ),
        (SmtpError::StartTlsNotOffered { port: 465 }, "deferred"),
        (
            SmtpError::StartTlsRefused {
                reply: reply(454, "no tls"),
            },
            "deferred",
        ),
        (
            SmtpError::Tls {
                host: "h".into(),
                detail: "bad cert".into(),
            },
            "deferred",
        ),
        (
            SmtpError::TlsConfig {
                detail: crate::TlsSetupError::NoContext,
            },
            "deferred",
        ),
        (SmtpError::PlaintextAuthRefused, "deferred"),
        (
            SmtpError::AuthMechanismNotOffered {
                wanted: "PLAIN".into(),
                offered: vec![],
            },
            "deferred",
        ),
        (
            SmtpError::AuthMissingResponses {
                mechanism: "PLAIN",
                needed: "x",
                found: 0,
            },
            "deferred",
        ),
        (
            SmtpError::AuthRejected {
                mechanism: "PLAIN",
                reply: reply(535, "bad"),
            },
            "deferred",
        ),
        (
            SmtpError::AuthBadChallenge {
                mechanism: "CRAM-MD5",
                reply: reply(334, "!"),
            },
            "deferred",
        ),
        (
            SmtpError::OAuthToken {
                mechanism: "XOAUTH2",
                error: token_error(),
                rejected: None,
            },
            "deferred",
        ),
        (
            SmtpError::OAuthToken {
                mechanism: "XOAUTH2",
                error: token_error(),
                rejected: Some(reply(535, "bad token")),
            },
            "deferred",
        ),
        (
            SmtpError::OAuthRejected {
                mechanism: "OAUTHBEARER",
                user: "fax@example.test".into(),
                reply: reply(535, "bad token"),
                status: None,
                refreshed: true,
            },
            "deferred",
        ),
        (
            SmtpError::OAuthRejected {
                mechanism: "XOAUTH2",
                user: "fax@example.test".into(),
                reply: reply(454, "try later"),
                status: None,
                refreshed: false,
            },
            "deferred",
        ),
        (
            SmtpError::Pop {
                host: "h".into(),
                port: 110,
                command: "PASS",
                response: "-ERR".into(),
            },
            "deferred",
        ),
        (
            SmtpError::MailFrom {
                reply: reply(451, "later"),
            },
            "deferred",
        ),
        (
            SmtpError::MailFrom {
                reply: reply(550, "no"),
            },
            "failed",
        ),
        (
            SmtpError::Recipient {
                address: "a".into(),
                reply: reply(550, "no such user"),
            },
            "failed",
        ),
        (
            SmtpError::Recipient {
                address: "a".into(),
                reply: reply(450, "later"),
            },
            "deferred",
        ),
        (
            SmtpError::RecipientsRefused {
                refused: vec![refused(550), refused(550)],
            },
            "failed",
        ),
        (
            SmtpError::RecipientsRefused {
                refused: vec![refused(550), refused(451)],
            },
            "deferred",
        ),
        (
            SmtpError::Data {
                reply: reply(554, "no"),
            },
            "failed",
        ),
        (
            SmtpError::Data {
                reply: reply(451, "later"),
            },
            "deferred",
        ),
        (
            SmtpError::DataEnd {
                reply: reply(552, "too big"),
            },
            "failed",
        ),
        (
            SmtpError::DataEnd {
                reply: reply(452, "full"),
            },
            "deferred",
        ),
        (SmtpError::SizeExceeded { size: 10, limit: 5 }, "failed"),
        (
            SmtpError::NeedsSmtpUtf8 {
                address: "jörg@example.de".into(),
            },
            "failed",
        ),
        (
            SmtpError::Body {
                what: "/x".into(),
                source: io_error(),
            },
            "deferred",
        ),
        (
            SmtpError::Rset {
                reply: reply(500, "?"),
            },
            "deferred",
        ),
    ]
}

fn token_error() -> vmail_core::TokenError {
    vmail_core::TokenError {
        kind: vmail_core::TokenErrorKind::InvalidClient,
        summary: "invalid_client: AADSTS7000215 the client secret is wrong".into(),
        advice: Some("set [VMAIL] oauth-client-secret".into()),
    }
}

fn refused(code: u16) -> RefusedRecipient {
    RefusedRecipient {
        address: format!("r{code}@x"),
        reply: reply(code, "r"),
    }
}

#[test]
fn every_variant_gets_its_outcome_and_keeps_the_reply() {
    for (error, expected) in every_variant() {
        let outcome = classify(&error);
        assert_eq!(outcome.label(), expected, "{error:?}");
        assert_eq!(
            outcome.reply().is_some(),
            error.reply().is_some(),
            "{error:?}"
        );
        assert_eq!(error.is_transient(), expected == "deferred");
    }
}

#[test]
fn messages_an_administrator_reads() {
    let e = SmtpError::StartTlsNotOffered { port: 465 };
    assert_eq!(
        e.to_string(),
        "tls=starttls is required but the server does not offer STARTTLS in its EHLO reply"
    );
    assert_eq!(
        advice(&e),
        "port 465 expects tls=implicit",
        "the advice is the table's, not repeated in the reason"
    );
    let e = SmtpError::AuthRejected {
        mechanism: "LOGIN",
        reply: reply(535, "bad"),
    };
    let outcome = classify(&e).to_string();
    assert_eq!(
        outcome,
        "deferred: the server rejected the login (AUTH LOGIN) (server said: 535 5.0.0 bad)"
    );
    assert_eq!(
        advice(&e),
        "enter it again with `vfxadmin config -a -p -e VMAIL auth-rsp`"
    );
    let e = SmtpError::SizeExceeded {
        size: 2_000_000,
        limit: 1_000_000,
    };
    assert!(
        classify(&e)
            .to_string()
            .contains("over the 1000000 bytes the server accepts")
    );
}

#[test]
fn oauth_errors_an_administrator_reads() {
    let e = SmtpError::OAuthToken {
        mechanism: "XOAUTH2",
        error: token_error(),
        rejected: None,
    };
    assert_eq!(
        classify(&e).to_string(),
        "deferred: no OAuth2 token for AUTH XOAUTH2: invalid_client: AADSTS7000215 the client \
         secret is wrong"
    );
    assert_eq!(advice(&e), "set [VMAIL] oauth-client-secret");
    let e = SmtpError::OAuthToken {
        mechanism: "OAUTHBEARER",
        error: token_error(),
        rejected: Some(reply(535, "bad token")),
    };
    assert_eq!(
        classify(&e).to_string(),
        "deferred: the server refused the OAuth2 token (AUTH OAUTHBEARER) and no new one could \
         be had: invalid_client: AADSTS7000215 the client secret is wrong (server said: 535 \
         5.0.0 bad token)"
    );
    let e = SmtpError::OAuthRejected {
        mechanism: "XOAUTH2",
        user: "fax@example.test".into(),
        reply: reply(535, "bad token"),
        status: Some(Box::new(crate::OAuthStatus {
            status: Some("401".into()),
            schemes: Some("bearer".into()),
            scope: Some("https://mail.google.com/".into()),
        })),
        refreshed: true,
    };
    assert_eq!(
        classify(&e).to_string(),
        "deferred: the server rejected the OAuth2 token for fax@example.test (AUTH XOAUTH2, \
         status 401, schemes bearer, scope https://mail.google.com/), a freshly fetched one \
         too (server said: 535 5.0.0 bad token)"
    );
    assert_eq!(
        advice(&e),
        "check that [VMAIL] oauth-user is the mailbox the app may send as, that oauth-scope is \
         the one the server asks for, and the app's permissions (docs/oauth.md)"
    );
}

fn advice(error: &SmtpError) -> String {
    error.advice().map(|a| a.to_string()).unwrap_or_default()
}

/// What each error does to the connection: only the server's verdict on
/// one message (and a body that cannot be opened) lets the next message go
/// over the same session; a dead connection is not even told QUIT.
#[test]
fn every_variant_has_its_session_effect() {
    for (error, _) in every_variant() {
        let expected = match &error {
            SmtpError::MailFrom { .. }
            | SmtpError::RecipientsRefused { .. }
            | SmtpError::Recipient { .. }
            | SmtpError::Data { .. }
            | SmtpError::DataEnd { .. }
            | SmtpError::SizeExceeded { .. }
            | SmtpError::NeedsSmtpUtf8 { .. }
            | SmtpError::Body { .. } => SessionEffect::Continues,
            SmtpError::Connect { .. }
            | SmtpError::Timeout { .. }
            | SmtpError::ConnectionClosed { .. }
            | SmtpError::Io { .. }
            | SmtpError::Tls { .. }
            | SmtpError::BodyRead { .. } => SessionEffect::Lost,
            _ => SessionEffect::Ends,
        };
        let expected = match error.reply() {
            Some(reply) if reply.code == 421 && expected == SessionEffect::Continues => {
                SessionEffect::Ends
            }
            _ => expected,
        };
        assert_eq!(error.facts().session, expected, "{error:?}");
        assert_eq!(
            error.ends_session(),
            expected != SessionEffect::Continues,
            "{error:?}"
        );
    }
}

/// A configuration error's advice names the `[VMAIL]` key to change.
#[test]
fn configuration_errors_name_the_key_to_change() {
    for (error, _) in every_variant() {
        let key = match &error {
            SmtpError::Helo { .. } => "helo-name",
            SmtpError::StartTlsNotOffered { .. } => "tls=implicit",
            SmtpError::TlsConfig { .. } => "ca-file",
            SmtpError::PlaintextAuthRefused => "allow-plaintext-auth",
            SmtpError::AuthMissingResponses { .. } => "auth-rsp",
            SmtpError::AuthBadChallenge { .. } => "auth-type",
            SmtpError::Timeout { .. } => "timeout",
            _ => continue,
        };
        assert!(
            advice(&error).contains(key),
            "{error:?}: {}",
            advice(&error)
        );
    }
}

#[test]
fn a_421_after_mail_from_ends_the_session() {
    let e = SmtpError::MailFrom {
        reply: reply(421, "closing"),
    };
    assert!(e.ends_session());
    assert!(e.is_transient());
}
