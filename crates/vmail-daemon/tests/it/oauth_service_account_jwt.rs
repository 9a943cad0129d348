//! Google's shape: `oauth-grant = service-account`, a JSON key file with
//! the service account's e-mail and RSA key; vmail signs an RS256
//! assertion (`iss` the account, `sub` the mailbox, `aud` the token URL),
//! the token service checks the signature against the registered public
//! key, and the token logs in at the real Postfix. Neither the key nor the
//! assertion is written anywhere else.
use crate::common::daemon::Daemon;
use crate::oauth_support::{Case, token_requests};
use std::os::unix::fs::PermissionsExt;
use vmail_testkit::oauth::{Grant, TEST_RSA_PRIVATE_KEY_PEM, TEST_RSA_PUBLIC_KEY_PEM};

#[test]
fn a_service_account_assertion_is_accepted_and_delivers() {
    let mut case = Case::new("sa", false, |spec| {
        spec.with_grants(&[Grant::JwtBearer])
            .with_jwt_public_key(TEST_RSA_PUBLIC_KEY_PEM)
    });
    let key_file = case.path().join("service-account.json");
    let json = serde_json_text(&case.client_id);
    std::fs::write(&key_file, json).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    case.write_config(
        "xoauth2",
        "service-account",
        &format!(
            "oauth-key-file = {}\noauth-scope = https://mail.google.com/\n",
            key_file.display()
        ),
    );
    // The private key's body, line by line: none may appear elsewhere.
    case.more_secrets.extend(
        TEST_RSA_PRIVATE_KEY_PEM
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 40)
            .map(str::to_string),
    );
    let daemon = Daemon::start(case.path());
    let id = case.drop_message("sa");
    case.arrived(&id, &daemon);
    case.wait_sent(1, &daemon);
    let logs = case.job_logs("sent");
    assert!(logs.contains(" C: AUTH XOAUTH2 <redacted>"), "{logs}");
    assert_eq!(daemon.stop().code(), Some(0));
    assert_eq!(token_requests(&case), 1);
    case.assert_no_secret_written(&[key_file.as_path()]);
}

/// A key file as the Google Cloud console writes it (the fields vmail
/// reads, and some it ignores).
fn serde_json_text(client_email: &str) -> String {
    let pem = TEST_RSA_PRIVATE_KEY_PEM.replace('\n', "\\n");
    format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"vmail-test\",\n  \
         \"private_key_id\": \"0123456789abcdef\",\n  \"private_key\": \"{pem}\",\n  \
         \"client_email\": \"{client_email}\",\n  \"client_id\": \"1234567890\",\n  \
         \"token_uri\": \"https://oauth2.googleapis.com/token\"\n}}\n"
    )
}
