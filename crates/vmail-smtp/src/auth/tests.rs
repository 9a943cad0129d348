use super::*;
use crate::error::ProtocolError;
use vmail_core::TlsMode;

fn s(value: &str) -> Secret {
    Secret::new(value)
}

#[test]
fn plain_matches_the_seed_vector() {
    let payload = plain_response(&s("jms1@jms1.net"), &s("not.my.real.password"));
    assert_eq!(
        payload.expose(),
        "AGptczFAam1zMS5uZXQAbm90Lm15LnJlYWwucGFzc3dvcmQ="
    );
}

#[test]
fn login_prompts_and_answers_are_base64() {
    assert_eq!(
        BASE64.decode("VXNlcm5hbWU6").ok(),
        Some(b"Username:".to_vec())
    );
    assert_eq!(
        BASE64.decode("UGFzc3dvcmQ6").ok(),
        Some(b"Password:".to_vec())
    );
    assert_eq!(
        login_response(&s("jms1@jms1.net")).expose(),
        "am1zMUBqbXMxLm5ldA=="
    );
    assert_eq!(
        login_response(&s("not.my.real.password")).expose(),
        "bm90Lm15LnJlYWwucGFzc3dvcmQ="
    );
}

#[test]
fn cram_md5_matches_rfc_2195() {
    let challenge = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    let answer = cram_md5_response(&s("tim"), &s("tanstaaftanstaaf"), challenge);
    assert_eq!(
        answer.as_ref().map(Secret::expose),
        Some("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
    );
    assert!(cram_md5_response(&s("tim"), &s("x"), "not base64!").is_none());
}

fn settings(auth_type: AuthType, allow_plaintext_auth: bool) -> SmtpSettings {
    let mut settings = SmtpSettings::plain("127.0.0.1", 25);
    settings.tls = TlsMode::None;
    settings.auth_type = auth_type;
    settings.allow_plaintext_auth = allow_plaintext_auth;
    settings
}

fn offering(mechanisms: &str) -> Result<Extensions, ProtocolError> {
    let raw = if mechanisms.is_empty() {
        "250-x\r\n250 PIPELINING\r\n".to_string()
    } else {
        format!("250-x\r\n250 AUTH {mechanisms}\r\n")
    };
    Extensions::parse(raw.as_bytes())
}

#[test]
fn auto_prefers_plain_over_tls_and_cram_md5_in_clear() -> Result<(), ProtocolError> {
    let all = offering("LOGIN PLAIN CRAM-MD5")?;
    let auto = settings(AuthType::Auto, true);
    assert_eq!(
        choose(&auto, &all, true).ok().flatten(),
        Some(Mechanism::Plain)
    );
    assert_eq!(
        choose(&auto, &all, false).ok().flatten(),
        Some(Mechanism::CramMd5)
    );
    let login_only = offering("LOGIN")?;
    assert_eq!(
        choose(&auto, &login_only, true).ok().flatten(),
        Some(Mechanism::Login)
    );
    Ok(())
}

#[test]
fn policy_errors_say_what_to_change() -> Result<(), ProtocolError> {
    let all = offering("PLAIN LOGIN")?;
    let refused = choose(&settings(AuthType::Plain, false), &all, false);
    let advice = refused.err().and_then(|e| e.advice());
    let text = advice.map(|a| a.to_string()).unwrap_or_default();
    assert!(text.contains("allow-plaintext-auth"), "{text}");

    let missing = choose(&settings(AuthType::CramMd5, true), &all, true);
    let text = missing.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        text,
        "the server does not offer AUTH CRAM-MD5; it offers: PLAIN LOGIN"
    );

    let none_offered = offering("")?;
    assert!(matches!(
        choose(&settings(AuthType::Plain, false), &none_offered, false),
        Ok(None)
    ));
    Ok(())
}

fn oauth_settings(auth_type: AuthType) -> SmtpSettings {
    let mut settings = settings(auth_type, false);
    settings.oauth = Some(vmail_core::OAuthSettings {
        provider: vmail_core::OAuthProvider::Microsoft,
        grant: vmail_core::OAuthGrant::ClientCredentials,
        tenant: Some("contoso.onmicrosoft.com".into()),
        client_id: "app".into(),
        client_secret: Some(s("shh")),
        key_file: None,
        user: "fax@contoso.com".into(),
        scope: "https://outlook.office365.com/.default".into(),
        token_url: "https://login.microsoftonline.com/x/oauth2/v2.0/token".into(),
        device_url: None,
        ca_file: None,
    });
    settings
}

/// The choice for each auth-type and offer, over TLS.
#[test]
fn the_choice_matrix_with_and_without_oauth_keys() -> Result<(), ProtocolError> {
    use Mechanism::*;
    let cases: &[(AuthType, bool, &str, Option<Mechanism>)] = &[
        // auto with the oauth-* keys: OAUTHBEARER, then XOAUTH2, never a password.
        (
            AuthType::Auto,
            true,
            "PLAIN LOGIN XOAUTH2 OAUTHBEARER",
            Some(OAuthBearer),
        ),
        (AuthType::Auto, true, "PLAIN LOGIN XOAUTH2", Some(XOAuth2)),
        (AuthType::Auto, true, "OAUTHBEARER", Some(OAuthBearer)),
        (AuthType::Auto, true, "PLAIN LOGIN CRAM-MD5", None),
        // A fixed OAuth mechanism is that one or nothing.
        (
            AuthType::XOAuth2,
            true,
            "PLAIN XOAUTH2 OAUTHBEARER",
            Some(XOAuth2),
        ),
        (AuthType::XOAuth2, true, "PLAIN OAUTHBEARER", None),
        (
            AuthType::OAuthBearer,
            true,
            "XOAUTH2 OAUTHBEARER",
            Some(OAuthBearer),
        ),
        (AuthType::OAuthBearer, true, "PLAIN XOAUTH2", None),
        // Without the keys, auto is the password choice it always was.
        (
            AuthType::Auto,
            false,
            "XOAUTH2 OAUTHBEARER PLAIN LOGIN",
            Some(Plain),
        ),
        (AuthType::Auto, false, "XOAUTH2 OAUTHBEARER", None),
        (AuthType::Login, true, "LOGIN XOAUTH2", Some(Login)),
    ];
    for (auth_type, with_keys, offer, expected) in cases {
        let settings = if *with_keys {
            oauth_settings(*auth_type)
        } else {
            settings(*auth_type, false)
        };
        let chosen = choose(&settings, &offering(offer)?, true);
        match expected {
            Some(mechanism) => assert_eq!(
                chosen.ok().flatten(),
                Some(*mechanism),
                "{auth_type} keys={with_keys} offer={offer}"
            ),
            None => assert!(
                matches!(chosen, Err(SmtpError::AuthMechanismNotOffered { .. })),
                "{auth_type} keys={with_keys} offer={offer}: {chosen:?}"
            ),
        }
    }
    Ok(())
}

#[test]
fn oauth_choices_name_what_was_wanted_and_obey_the_plaintext_rule() -> Result<(), ProtocolError> {
    let passwords_only = offering("PLAIN LOGIN")?;
    let text = choose(&oauth_settings(AuthType::Auto), &passwords_only, true)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        text,
        "the server does not offer AUTH OAUTHBEARER or XOAUTH2 (auth-type=auto with the \
         oauth-* keys set); it offers: PLAIN LOGIN"
    );
    // A bearer token in clear is as good as a password to a listener.
    let oauth = offering("XOAUTH2 OAUTHBEARER")?;
    for auth_type in [AuthType::Auto, AuthType::XOAuth2, AuthType::OAuthBearer] {
        assert!(matches!(
            choose(&oauth_settings(auth_type), &oauth, false),
            Err(SmtpError::PlaintextAuthRefused)
        ));
    }
    let mut allowed = oauth_settings(AuthType::Auto);
    allowed.allow_plaintext_auth = true;
    assert_eq!(
        choose(&allowed, &oauth, false).ok().flatten(),
        Some(Mechanism::OAuthBearer)
    );
    Ok(())
}
