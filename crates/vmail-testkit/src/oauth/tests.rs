//! The grants as functions of the registry (clock passed in), then the
//! whole service over HTTPS in process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use super::registry::{Answer, Registry, TokenRequest};
use super::*;

const TOKEN_URL: &str = "https://127.0.0.1:1/token";
const MAILBOX: &str = "jms1@jms1.net";

fn request(pairs: &[(&str, &str)]) -> TokenRequest {
    TokenRequest {
        params: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        token_url: TOKEN_URL.to_owned(),
        ..TokenRequest::default()
    }
}

fn ok(answer: Answer<TokenResponse>) -> TokenResponse {
    match answer {
        Answer::Ok(response) => response,
        Answer::Error(e) => panic!(
            "expected a token, got {} {}: {}",
            e.status, e.error, e.description
        ),
        Answer::Fault(f) => panic!("expected a token, got fault {f:?}"),
    }
}

/// The status and `error` of an error answer.
fn error<T>(answer: Answer<T>) -> (u16, String) {
    match answer {
        Answer::Ok(_) => panic!("expected an error, got a token"),
        Answer::Error(e) => (e.status, e.error),
        Answer::Fault(f) => panic!("expected an error, got fault {f:?}"),
    }
}

fn registry_with(spec: ClientSpec) -> Registry {
    let mut registry = Registry::default();
    registry.register(spec).unwrap();
    registry
}

fn client_credentials(id: &str, secret: &str) -> TokenRequest {
    request(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ])
}

#[test]
fn client_credentials_token_introspects_as_the_mailbox_until_it_expires() {
    let t0 = Instant::now();
    let mut r = registry_with(
        ClientSpec::new("app", MAILBOX)
            .with_secret("s")
            .with_token_lifetime(Duration::from_secs(60)),
    );
    let token = ok(r.token(&client_credentials("app", "s"), t0));
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_in, 60);
    assert_eq!(
        token.refresh_token, None,
        "RFC 6749 §4.4.3: no refresh token"
    );
    let live = r.introspect(&token.access_token, t0 + Duration::from_secs(59));
    assert_eq!(live["active"], true);
    assert_eq!(live["username"], MAILBOX);
    let dead = r.introspect(&token.access_token, t0 + Duration::from_secs(60));
    assert_eq!(dead, serde_json::json!({ "active": false }));
    assert_eq!(
        r.introspect("vmail-at-bogus", t0),
        serde_json::json!({ "active": false })
    );
    let counters = r.counters("app").unwrap();
    assert_eq!(counters.token_requests(Grant::ClientCredentials), 1);
    assert_eq!(
        (counters.introspections, counters.introspections_active),
        (2, 1)
    );
    assert_eq!(r.unknown_introspections, 1);
}

#[test]
fn client_authentication_by_form_or_basic_and_its_errors() {
    let t0 = Instant::now();
    let mut r = registry_with(ClientSpec::new("app", MAILBOX).with_secret("s:ecret"));
    let mut basic = request(&[("grant_type", "client_credentials")]);
    basic.basic = Some(("app".into(), "s:ecret".into()));
    ok(r.token(&basic, t0));
    assert_eq!(
        error(r.token(&client_credentials("app", "wrong"), t0)),
        (401, "invalid_client".into())
    );
    assert_eq!(
        error(r.token(&client_credentials("nobody", "s"), t0)),
        (401, "invalid_client".into())
    );
    let no_secret = request(&[("grant_type", "client_credentials"), ("client_id", "app")]);
    assert_eq!(
        error(r.token(&no_secret, t0)),
        (401, "invalid_client".into())
    );
    let unknown_grant = request(&[("grant_type", "password"), ("client_id", "app")]);
    assert_eq!(
        error(r.token(&unknown_grant, t0)),
        (400, "unsupported_grant_type".into())
    );
    let mut only_cc =
        registry_with(ClientSpec::new("cc", MAILBOX).with_grants(&[Grant::DeviceCode]));
    let cc = request(&[("grant_type", "client_credentials"), ("client_id", "cc")]);
    assert_eq!(
        error(only_cc.token(&cc, t0)),
        (400, "unauthorized_client".into())
    );
}

#[test]
fn microsoft_paths_answer_with_aadsts_codes() {
    let t0 = Instant::now();
    let mut r = registry_with(
        ClientSpec::new("app", MAILBOX)
            .with_secret("s")
            .with_tenant("contoso"),
    );
    let mut wrong_secret = client_credentials("app", "wrong");
    wrong_secret.tenant = Some("contoso".into());
    let Answer::Error(e) = r.token(&wrong_secret, t0) else {
        panic!("no error")
    };
    let (status, body) = e.render(true);
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 7000215);
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("AADSTS7000215: Invalid client secret provided."),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "), "{description}");
    // The same error on the RFC path is plain RFC 6749.
    assert_eq!(
        e.render(false).1["error_description"],
        "client authentication failed"
    );

    let mut other_tenant = client_credentials("app", "s");
    other_tenant.tenant = Some("fabrikam".into());
    let Answer::Error(e) = r.token(&other_tenant, t0) else {
        panic!("no error")
    };
    assert_eq!(e.render(true).1["error_codes"][0], 90002);
    r.register(ClientSpec::new("other", MAILBOX).with_tenant("fabrikam"))
        .unwrap();
    let Answer::Error(e) = r.token(&other_tenant, t0) else {
        panic!("no error")
    };
    assert_eq!(e.render(true).1["error_codes"][0], 700016);
}

#[test]
fn strict_rotation_refuses_a_used_refresh_token() {
    let t0 = Instant::now();
    let mut r = registry_with(ClientSpec::new("app", MAILBOX));
    let first = r.issue_refresh_token("app").unwrap();
    let refresh = |token: &str| {
        request(&[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", token),
        ])
    };
    let second = ok(r.token(&refresh(&first), t0))
        .refresh_token
        .expect("rotated");
    assert_ne!(first, second);
    assert_eq!(
        error(r.token(&refresh(&first), t0)),
        (400, "invalid_grant".into())
    );
    let third = ok(r.token(&refresh(&second), t0))
        .refresh_token
        .expect("rotated");
    assert_eq!(
        error(r.token(&refresh(&second), t0)),
        (400, "invalid_grant".into())
    );
    r.revoke_tokens("app").unwrap();
    assert_eq!(
        error(r.token(&refresh(&third), t0)),
        (400, "invalid_grant".into())
    );
    assert_eq!(
        r.counters("app")
            .unwrap()
            .token_requests(Grant::RefreshToken),
        5
    );
}

#[test]
fn grace_rotation_keeps_the_old_token_until_the_new_one_is_used() {
    let t0 = Instant::now();
    let mut r =
        registry_with(ClientSpec::new("app", MAILBOX).with_rotation(Rotation::KeepOldUntilNewUsed));
    let refresh = |token: &str| {
        request(&[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", token),
        ])
    };
    let old = r.issue_refresh_token("app").unwrap();
    let lost = ok(r.token(&refresh(&old), t0)).refresh_token.unwrap();
    // The client died before saving `lost`: the old one still works...
    let saved = ok(r.token(&refresh(&old), t0)).refresh_token.unwrap();
    // ...the lost one was replaced, and using the saved one ends the old one.
    assert_eq!(error(r.token(&refresh(&lost), t0)).1, "invalid_grant");
    ok(r.token(&refresh(&saved), t0));
    assert_eq!(error(r.token(&refresh(&old), t0)).1, "invalid_grant");
}

#[test]
fn without_rotation_the_same_refresh_token_keeps_working() {
    let t0 = Instant::now();
    let mut r = registry_with(ClientSpec::new("app", MAILBOX).with_rotation(Rotation::Off));
    let token = r.issue_refresh_token("app").unwrap();
    let refresh = request(&[
        ("grant_type", "refresh_token"),
        ("client_id", "app"),
        ("refresh_token", &token),
    ]);
    assert_eq!(ok(r.token(&refresh, t0)).refresh_token, None);
    ok(r.token(&refresh, t0));
}

#[test]
fn device_flow_pending_slow_down_approved_then_used() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut r = registry_with(ClientSpec::new("dev", MAILBOX).with_device_timing(s(5), s(600)));
    let start = request(&[("client_id", "dev"), ("scope", "SMTP.Send offline_access")]);
    let Answer::Ok(device) = r.device_authorization(&start, "https://x/verify", t0) else {
        panic!("no device code")
    };
    assert_eq!((device.interval, device.expires_in), (5, 600));
    assert_eq!(device.user_code.len(), 9);
    let poll = request(&[
        ("grant_type", Grant::DeviceCode.grant_type()),
        ("client_id", "dev"),
        ("device_code", &device.device_code),
    ]);
    assert_eq!(error(r.token(&poll, t0)).1, "authorization_pending");
    assert_eq!(
        error(r.token(&poll, t0 + s(1))).1,
        "slow_down",
        "1 s after the last poll"
    );
    // The interval is now 10 s.
    assert_eq!(
        error(r.token(&poll, t0 + s(7))).1,
        "slow_down",
        "6 s < 10 s"
    );
    assert_eq!(error(r.token(&poll, t0 + s(22))).1, "authorization_pending");
    r.slow_down_next_poll("dev").unwrap();
    assert_eq!(error(r.token(&poll, t0 + s(40))).1, "slow_down", "forced");
    assert_eq!(
        r.pending_user_codes("dev").unwrap(),
        vec![device.user_code.clone()]
    );
    assert_eq!(
        r.decide_device("dev", Some(&device.user_code), true)
            .unwrap(),
        1
    );
    let tokens = ok(r.token(&poll, t0 + s(60)));
    assert!(tokens.refresh_token.is_some());
    assert_eq!(tokens.scope.as_deref(), Some("SMTP.Send offline_access"));
    assert_eq!(
        error(r.token(&poll, t0 + s(80))).1,
        "invalid_grant",
        "a device code is used once"
    );
    assert!(
        r.decide_device("dev", None, true).is_err(),
        "nothing pending"
    );
}

#[test]
fn device_codes_expire_and_can_be_denied() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut r = registry_with(ClientSpec::new("dev", MAILBOX).with_device_timing(s(0), s(30)));
    let start = request(&[("client_id", "dev")]);
    let poll = |code: &str| {
        request(&[
            ("grant_type", Grant::DeviceCode.grant_type()),
            ("client_id", "dev"),
            ("device_code", code),
        ])
    };
    let Answer::Ok(first) = r.device_authorization(&start, "v", t0) else {
        panic!()
    };
    assert_eq!(
        error(r.token(&poll(&first.device_code), t0 + s(31))).1,
        "expired_token"
    );
    let Answer::Ok(second) = r.device_authorization(&start, "v", t0) else {
        panic!()
    };
    r.decide_device("dev", None, false).unwrap();
    assert_eq!(
        error(r.token(&poll(&second.device_code), t0)).1,
        "access_denied"
    );
    assert_eq!(r.counters("dev").unwrap().device_authorizations, 2);
}

fn assertion(key: &str, iss: &str, sub: &str, aud: &str, lifetime_secs: i64) -> String {
    let mut claims = AssertionClaims::new(
        iss,
        sub,
        aud,
        Some("https://mail.google.com/"),
        Duration::from_secs(3600),
    );
    claims.exp = (claims.iat as i64 + lifetime_secs) as u64;
    sign_assertion(key, &claims).unwrap()
}

#[test]
fn jwt_bearer_checks_signature_issuer_audience_expiry_and_subject() {
    let t0 = Instant::now();
    let sa = "vmail@project.iam.gserviceaccount.com";
    let mut r = registry_with(
        ClientSpec::new(sa, MAILBOX)
            .with_grants(&[Grant::JwtBearer])
            .with_jwt_public_key(TEST_RSA_PUBLIC_KEY_PEM),
    );
    let grant = |assertion: &str| {
        request(&[
            ("grant_type", Grant::JwtBearer.grant_type()),
            ("assertion", assertion),
        ])
    };
    let good = assertion(TEST_RSA_PRIVATE_KEY_PEM, sa, MAILBOX, TOKEN_URL, 3600);
    let token = ok(r.token(&grant(&good), t0));
    assert_eq!(token.scope.as_deref(), Some("https://mail.google.com/"));
    assert_eq!(r.introspect(&token.access_token, t0)["username"], MAILBOX);

    let refused = |r: &mut Registry, a: String| match r.token(&grant(&a), t0) {
        Answer::Error(e) => (e.error, e.description),
        _ => panic!("accepted"),
    };
    let (e, d) = refused(
        &mut r,
        assertion(OTHER_RSA_PRIVATE_KEY_PEM, sa, MAILBOX, TOKEN_URL, 3600),
    );
    assert_eq!(
        (e.as_str(), d.as_str()),
        ("invalid_grant", "Invalid JWT Signature.")
    );
    let (e, d) = refused(
        &mut r,
        assertion(
            TEST_RSA_PRIVATE_KEY_PEM,
            sa,
            MAILBOX,
            "https://elsewhere/token",
            3600,
        ),
    );
    assert_eq!(e, "invalid_grant");
    assert!(d.contains("aud"), "{d}");
    let (e, d) = refused(
        &mut r,
        assertion(TEST_RSA_PRIVATE_KEY_PEM, sa, MAILBOX, TOKEN_URL, -10),
    );
    assert_eq!(e, "invalid_grant");
    assert!(d.contains("short-lived"), "{d}");
    let (e, _) = refused(
        &mut r,
        assertion(
            TEST_RSA_PRIVATE_KEY_PEM,
            sa,
            "other@jms1.net",
            TOKEN_URL,
            3600,
        ),
    );
    assert_eq!(e, "unauthorized_client");
    let (e, _) = refused(
        &mut r,
        assertion(
            TEST_RSA_PRIVATE_KEY_PEM,
            "stranger@x.test",
            MAILBOX,
            TOKEN_URL,
            3600,
        ),
    );
    assert_eq!(e, "invalid_client");
    assert_eq!(r.counters(sa).unwrap().token_requests(Grant::JwtBearer), 5);
}

#[test]
fn revocation_and_expiry_make_tokens_inactive() {
    let t0 = Instant::now();
    let mut r = registry_with(ClientSpec::new("app", MAILBOX).with_secret("s"));
    let token = ok(r.token(&client_credentials("app", "s"), t0)).access_token;
    r.deny_introspection("app", true).unwrap();
    assert_eq!(r.introspect(&token, t0)["active"], false);
    r.deny_introspection("app", false).unwrap();
    assert_eq!(r.introspect(&token, t0)["active"], true);
    r.expire_tokens("app", t0).unwrap();
    assert_eq!(r.introspect(&token, t0)["active"], false);
    let fresh = ok(r.token(&client_credentials("app", "s"), t0)).access_token;
    r.revoke_client("app").unwrap();
    assert_eq!(r.introspect(&fresh, t0)["active"], false);
    assert_eq!(
        error(r.token(&client_credentials("app", "s"), t0)),
        (401, "invalid_client".into())
    );
    r.reinstate("app").unwrap();
    ok(r.token(&client_credentials("app", "s"), t0));
    assert!(matches!(
        r.register(ClientSpec::new("app", MAILBOX)),
        Err(ServiceError::DuplicateClient(_))
    ));
    assert!(matches!(
        r.register(ClientSpec::new("a/b", MAILBOX)),
        Err(ServiceError::BadClientId(_))
    ));
}

#[test]
fn faults_answer_for_a_number_of_requests_or_a_while() {
    let t0 = Instant::now();
    let mut r = registry_with(ClientSpec::new("app", MAILBOX).with_secret("s"));
    r.set_fault("app", Some(Fault::status(503).times(2)), t0)
        .unwrap();
    for _ in 0..2 {
        assert!(matches!(
            r.token(&client_credentials("app", "s"), t0),
            Answer::Fault(FaultAnswer::Status { status: 503, .. })
        ));
    }
    ok(r.token(&client_credentials("app", "s"), t0));
    r.set_fault(
        "app",
        Some(Fault::drop_connection().for_duration(Duration::from_secs(10))),
        t0,
    )
    .unwrap();
    assert!(matches!(
        r.token(&client_credentials("app", "s"), t0 + Duration::from_secs(9)),
        Answer::Fault(FaultAnswer::Drop)
    ));
    ok(r.token(
        &client_credentials("app", "s"),
        t0 + Duration::from_secs(10),
    ));
    let counters = r.counters("app").unwrap();
    assert_eq!(counters.token_requests(Grant::ClientCredentials), 5);
    assert_eq!(
        (
            counters.faults_applied,
            counters.token_errors,
            counters.tokens_issued
        ),
        (3, 3, 2)
    );
}

/// The whole service over HTTPS, its own CA trusted: the OAuth endpoints
/// and the control endpoints through [`TokenServiceClient`].
#[test]
fn in_process_service_answers_over_https() {
    let service = TokenService::start().unwrap();
    assert!(
        service.url().starts_with("https://127.0.0.1:"),
        "{}",
        service.url()
    );
    let client = service.client().unwrap();
    let id = unique_client_id("https");
    client
        .register_client(&ClientSpec::new(&id, MAILBOX).with_secret("s"))
        .unwrap();
    let token = client
        .client_credentials(&id, "s", Some("https://outlook.office365.com/.default"))
        .unwrap();
    assert_eq!(
        client.introspect(&token.access_token).unwrap()["username"],
        MAILBOX
    );
    let (status, body) = client
        .post_form(
            &client.urls().token(),
            &[("grant_type", "client_credentials")],
            Some((&id, "s")),
        )
        .unwrap();
    assert_eq!(
        (status, body["token_type"].as_str()),
        (200, Some("Bearer")),
        "Basic: {body}"
    );
    match client.client_credentials(&id, "wrong", None) {
        Err(ServiceError::OAuth {
            status: 401, error, ..
        }) => assert_eq!(error, "invalid_client"),
        other => panic!("{other:?}"),
    }

    client.set_fault(&id, &Fault::status(503).times(1)).unwrap();
    assert!(matches!(
        client.client_credentials(&id, "s", None),
        Err(ServiceError::Unexpected { status: 503, .. })
    ));
    client
        .set_fault(&id, &Fault::drop_connection().times(1))
        .unwrap();
    assert!(matches!(
        client.client_credentials(&id, "s", None),
        Err(ServiceError::Http { .. })
    ));
    client.revoke_tokens(&id).unwrap();
    assert_eq!(
        client.introspect(&token.access_token).unwrap()["active"],
        false
    );
    let counters = client.counters(&id).unwrap();
    assert_eq!(counters.token_requests(Grant::ClientCredentials), 5);
    assert!(matches!(
        client.counters("nobody"),
        Err(ServiceError::UnknownClient(_))
    ));

    // Device flow over the wire, approved through the control endpoint.
    let dev = unique_client_id("device");
    client
        .register_client(
            &ClientSpec::new(&dev, MAILBOX)
                .with_device_timing(Duration::ZERO, Duration::from_secs(60)),
        )
        .unwrap();
    let device = client.start_device(&dev, None).unwrap();
    assert!(
        matches!(client.poll_device(&dev, &device.device_code), Err(ServiceError::OAuth { ref error, .. }) if error == "authorization_pending")
    );
    assert_eq!(client.approve_device(&dev, None).unwrap(), 1);
    let tokens = client.poll_device(&dev, &device.device_code).unwrap();
    let rotated = client
        .refresh(&dev, None, tokens.refresh_token.as_deref().unwrap())
        .unwrap();
    assert!(rotated.refresh_token.is_some());

    // Refusing connections closes the port for a while, then it is back.
    client.refuse_connections(Duration::from_secs(1)).unwrap();
    let refused_at = Instant::now();
    let mut refused = false;
    while refused_at.elapsed() < Duration::from_secs(10) {
        match client.client_credentials(&id, "s", None) {
            Err(ServiceError::Http { .. }) => refused = true,
            Ok(_) if refused => break,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(refused, "connections were never refused");
    client.client_credentials(&id, "s", None).unwrap();
}

#[test]
fn a_jwt_assertion_must_be_signed_for_the_url_it_is_posted_to() {
    let service = TokenService::start().unwrap();
    let client = service.client().unwrap();
    let sa = unique_client_id("sa");
    client
        .register_client(
            &ClientSpec::new(&sa, MAILBOX).with_jwt_public_key(TEST_RSA_PUBLIC_KEY_PEM),
        )
        .unwrap();
    let claims = AssertionClaims::new(
        &sa,
        MAILBOX,
        &client.urls().token(),
        None,
        Duration::from_secs(600),
    );
    let token = client
        .jwt_bearer(&sign_assertion(TEST_RSA_PRIVATE_KEY_PEM, &claims).unwrap())
        .unwrap();
    assert_eq!(
        client.introspect(&token.access_token).unwrap()["active"],
        true
    );
    let forged = sign_assertion(OTHER_RSA_PRIVATE_KEY_PEM, &claims).unwrap();
    match client.jwt_bearer(&forged) {
        Err(ServiceError::OAuth {
            status: 400,
            error,
            description,
        }) => {
            assert_eq!(
                (error.as_str(), description.as_str()),
                ("invalid_grant", "Invalid JWT Signature.")
            );
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 6749 §2.3.1: id and secret are form-encoded before Basic, so a
/// secret with `:`, `+`, `%` and a space survives; a bad control request
/// comes back as a typed error.
#[test]
fn basic_credentials_are_form_decoded_and_control_errors_are_typed() {
    let service = TokenService::start().unwrap();
    let client = service.client().unwrap();
    let id = unique_client_id("basic");
    let secret = "s:e+c r%et";
    client
        .register_client(&ClientSpec::new(&id, MAILBOX).with_secret(secret))
        .unwrap();
    let (status, body) = client
        .post_form(
            &client.urls().token(),
            &[("grant_type", "client_credentials")],
            Some((&id, secret)),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = client
        .post_form(
            &client.urls().microsoft_token("contoso"),
            &[("grant_type", "client_credentials")],
            Some((&id, secret)),
        )
        .unwrap();
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(90002)),
        "{body}"
    );
    assert!(matches!(
        client.register_client(&ClientSpec::new(&id, MAILBOX)),
        Err(ServiceError::DuplicateClient(_))
    ));
    assert!(matches!(
        client.approve_device(&id, None),
        Err(ServiceError::NoPendingDevice(_))
    ));
}

#[test]
fn a_delay_fault_handles_the_request_and_holds_only_the_answer() {
    let t0 = Instant::now();
    let mut r = registry_with(
        ClientSpec::new("app", MAILBOX)
            .with_secret("s")
            .with_rotation(Rotation::KeepOldUntilNewUsed),
    );
    r.set_fault(
        "app",
        Some(Fault::delay(Duration::from_millis(1500)).times(1)),
        t0,
    )
    .unwrap();
    ok(r.token(&client_credentials("app", "s"), t0));
    assert_eq!(r.hold_answer_millis.take(), Some(1500));
    ok(r.token(&client_credentials("app", "s"), t0));
    assert_eq!(r.hold_answer_millis, None, "only the one request is held");
    let counters = r.counters("app").unwrap();
    assert_eq!((counters.faults_applied, counters.tokens_issued), (1, 2));
}
