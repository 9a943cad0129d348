use super::*;

fn token(value: &str) -> Secret {
    Secret::new(value)
}

#[test]
fn xoauth2_matches_googles_documented_example() {
    // https://developers.google.com/gmail/imap/xoauth2-protocol
    let response = xoauth2_response(
        "someuser@example.com",
        &token("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
    );
    assert_eq!(
        response.expose(),
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr\
         QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    );
}

#[test]
fn oauthbearer_matches_rfc_7628_example() {
    // RFC 7628 §4.1, with the authzid of the GS2 header.
    let response = oauthbearer_response(
        "user@example.com",
        "server.example.com",
        143,
        &token("vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg=="),
    );
    let decoded = BASE64.decode(response.expose()).unwrap_or_default();
    assert_eq!(
        decoded,
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer \
          vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01"
            .to_vec()
    );
    assert_eq!(
        response.expose(),
        "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVh\
         cmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2c9PQEB"
    );
}

#[test]
fn the_authzid_escapes_comma_and_equals_per_rfc_5801() {
    assert_eq!(escape_authzid("fax@example.com"), "fax@example.com");
    assert_eq!(escape_authzid("a,b=c@x"), "a=2Cb=3Dc@x");
    assert_eq!(escape_authzid("=,"), "=3D=2C");
    let response = oauthbearer_response("a,b@x", "h", 587, &token("t"));
    let decoded = BASE64.decode(response.expose()).unwrap_or_default();
    assert!(decoded.starts_with(b"n,a=a=2Cb@x,\x01host=h\x01port=587\x01"));
    // XOAUTH2 has no GS2 header, so nothing to escape.
    let response = xoauth2_response("a,b=c@x", &token("t"));
    let decoded = BASE64.decode(response.expose()).unwrap_or_default();
    assert_eq!(decoded, b"user=a,b=c@x\x01auth=Bearer t\x01\x01".to_vec());
}

#[test]
fn the_error_challenge_decodes_googles_and_rfc_7628s_json() {
    // Google's documented failure challenge (status as a string).
    let google = OAuthStatus::decode(
        "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K",
    );
    assert_eq!(
        google,
        Some(OAuthStatus {
            status: Some("401".into()),
            schemes: Some("bearer mac".into()),
            scope: Some("https://mail.google.com/".into()),
        })
    );
    assert_eq!(
        google.map(|s| s.to_string()).unwrap_or_default(),
        "status 401, schemes bearer mac, scope https://mail.google.com/"
    );
    // RFC 7628 §4.3's form, and a number for a status.
    let rfc = OAuthStatus::decode(&BASE64.encode(
        r#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"x"}"#,
    ));
    assert_eq!(
        rfc.map(|s| s.to_string()).unwrap_or_default(),
        "status invalid_token, scope example_scope"
    );
    let number = OAuthStatus::decode(&BASE64.encode(r#"{"status":401}"#));
    assert_eq!(number.and_then(|s| s.status), Some("401".to_string()));
    assert_eq!(OAuthStatus::default().to_string(), "no status");
}

#[test]
fn a_challenge_that_is_not_base64_json_decodes_to_nothing() {
    assert_eq!(OAuthStatus::decode(""), None);
    assert_eq!(OAuthStatus::decode("not base64!"), None);
    assert_eq!(OAuthStatus::decode(&BASE64.encode("[1,2]")), None);
    assert_eq!(OAuthStatus::decode(&BASE64.encode("plain text")), None);
}

#[test]
fn a_hostile_status_cannot_forge_transcript_lines_or_fill_the_log() {
    let long = "x".repeat(10_000);
    let json = format!(r#"{{"status":"401\r\nS: 235 ok","scope":"{long}"}}"#);
    let status = OAuthStatus::decode(&BASE64.encode(json)).unwrap_or_default();
    assert_eq!(status.status.as_deref(), Some("401  S: 235 ok"));
    assert_eq!(status.scope.map(|s| s.len()), Some(STATUS_FIELD_LIMIT));
}

#[test]
fn a_google_sized_token_fits_the_initial_response_and_a_jwt_does_not() {
    let line = |len: usize| {
        let response = xoauth2_response("fax@example.com", &token(&"t".repeat(len)));
        "AUTH XOAUTH2 ".len() + response.expose().len() + 2
    };
    assert!(line(250) <= INITIAL_RESPONSE_LIMIT);
    // RFC 5321's command line limit, CRLF included.
    assert_eq!(INITIAL_RESPONSE_LIMIT, 512);
    assert!(line(1500) > INITIAL_RESPONSE_LIMIT);
}
