//! `[VMAIL] oauth-*` through `load`: the provider's defaults, auth-type
//! auto choosing OAuth, the sealed client secret, the key file's mode, and
//! the exact lines an administrator reads for each mistake, all at once.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use tempfile::TempDir;
use vmail_config::{ConfigErrors, Loaded, is_secret_key, load, secrets};
use vmail_core::{AuthType, OAuthGrant, OAuthProvider, OAuthSettings};

const SECRET: &str = "Xy8Q~client-secret-value";

fn write_ini(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("vsisrv.ini");
    fs::write(&path, text).unwrap();
    path
}

fn load_in(dir: &TempDir, text: &str) -> Loaded {
    let path = write_ini(dir, text);
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn oauth_of(loaded: &Loaded) -> (AuthType, OAuthSettings) {
    let smtp = loaded.config.smtp().unwrap();
    (smtp.auth_type, smtp.oauth.clone().expect("oauth settings"))
}

fn lines(dir: &TempDir, text: &str) -> Vec<String> {
    let root = dir.path().display().to_string();
    text.lines().map(|l| l.replace(&root, "DIR")).collect()
}

fn errors_in(dir: &TempDir, text: &str) -> Vec<String> {
    let path = write_ini(dir, text);
    let err: ConfigErrors = load(&path).map(|l| l.config).expect_err("should not load");
    lines(dir, &err.to_string())
}

fn warnings(dir: &TempDir, loaded: &Loaded) -> Vec<String> {
    let all: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    lines(dir, &all.join("\n"))
}

/// A sealed client secret line, with the key file created beside the ini.
fn sealed_secret(dir: &TempDir) -> String {
    let (key, _) = secrets::load_or_create_key(&dir.path().join("vmail.key")).unwrap();
    let sealed = secrets::seal(&key, SECRET).unwrap();
    format!("oauth-client-secret = {sealed}\n")
}

#[test]
fn microsoft_client_credentials_get_the_tenant_urls_and_the_app_scope() {
    let dir = TempDir::new().unwrap();
    let text = format!(
        "[VMAIL]\nmail-server = smtp.office365.com\nmail-port = 587\ntls = starttls\n\
         auth-type = xoauth2\noauth-provider = microsoft\noauth-tenant = contoso.onmicrosoft.com\n\
         oauth-client-id = 0a1b2c3d-1111-2222-3333-444455556666\n{}oauth-user = fax@contoso.com\n",
        sealed_secret(&dir)
    );
    let loaded = load_in(&dir, &text);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let (auth, o) = oauth_of(&loaded);
    assert_eq!(auth, AuthType::XOAuth2);
    assert_eq!(o.provider, OAuthProvider::Microsoft);
    assert_eq!(o.grant, OAuthGrant::ClientCredentials);
    assert_eq!(o.tenant.as_deref(), Some("contoso.onmicrosoft.com"));
    assert_eq!(o.client_id, "0a1b2c3d-1111-2222-3333-444455556666");
    assert_eq!(o.client_secret.as_ref().unwrap().expose(), SECRET);
    assert_eq!(o.user, "fax@contoso.com");
    assert_eq!(o.scope, "https://outlook.office365.com/.default");
    assert_eq!(
        o.token_url,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(
        o.device_url.as_deref(),
        Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode")
    );
    assert!(o.key_file.is_none());
    assert!(!format!("{o:?}").contains(SECRET));
}

#[test]
fn microsoft_delegated_gets_smtp_send_and_offline_access_without_a_secret() {
    let dir = TempDir::new().unwrap();
    let loaded = load_in(
        &dir,
        "[VMAIL]\nmail-server = smtp.office365.com\ntls = starttls\nauth-type = oauthbearer\n\
         oauth-provider = microsoft\noauth-grant = refresh-token\noauth-tenant = common\n\
         oauth-client-id = app\noauth-user = fax@contoso.com\n",
    );
    let (auth, o) = oauth_of(&loaded);
    assert_eq!(auth, AuthType::OAuthBearer);
    assert_eq!(o.grant, OAuthGrant::RefreshToken);
    assert!(o.client_secret.is_none());
    assert_eq!(
        o.scope,
        "https://outlook.office.com/SMTP.Send offline_access"
    );
}

#[test]
fn google_service_account_reads_a_private_key_file_and_gets_googles_urls() {
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("sa.json");
    fs::write(
        &key,
        r#"{"type":"service_account","client_email":"fax@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}"#,
    )
    .unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = load_in(
        &dir,
        "[VMAIL]\nmail-server = smtp.gmail.com\ntls = starttls\n\
         oauth-provider = google\noauth-key-file = sa.json\noauth-user = fax@example.com\n",
    );
    let (auth, o) = oauth_of(&loaded);
    assert_eq!(auth, AuthType::Auto, "auto, with the oauth keys set");
    assert_eq!(
        o.grant,
        OAuthGrant::ServiceAccount,
        "google's default grant"
    );
    assert_eq!(o.key_file.as_deref(), Some(key.as_path()));
    assert_eq!(o.scope, "https://mail.google.com/");
    assert_eq!(o.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(
        o.device_url.as_deref(),
        Some("https://oauth2.googleapis.com/device/code")
    );

    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = smtp.gmail.com\ntls = starttls\n\
         oauth-provider = google\noauth-key-file = sa.json\noauth-user = fax@example.com\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:5: [VMAIL] oauth-key-file: DIR/sa.json may be read or written by group or others (mode 0644), so vmail refuses it (run `chmod 600 DIR/sa.json`)"
        ]
    );
}

#[test]
fn a_key_file_that_is_not_a_service_account_key_is_refused_without_quoting_it() {
    let dir = TempDir::new().unwrap();
    let key = dir.path().join("sa.json");
    fs::write(&key, "{\"private_key_id\":\"do-not-show-me\"}").unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = smtp.gmail.com\ntls = starttls\noauth-provider = google\n\
         oauth-grant = service-account\noauth-key-file = sa.json\noauth-user = fax@example.com\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:6: [VMAIL] oauth-key-file: DIR/sa.json is not a service account key (JSON with client_email and private_key, as the Google Cloud console downloads it)"
        ]
    );
    assert_eq!(
        errors_in(
            &dir,
            "[VMAIL]\nmail-server = smtp.gmail.com\ntls = starttls\noauth-provider = google\n\
             oauth-user = fax@example.com\n"
        ),
        [
            "DIR/vsisrv.ini:4: [VMAIL] oauth-key-file: is not set, and oauth-grant = service-account needs it (the service account's JSON key from the Google Cloud console, mode 0600)"
        ]
    );
}

#[test]
fn generic_needs_its_urls_and_http_is_refused_off_loopback() {
    let dir = TempDir::new().unwrap();
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\nauth-type = xoauth2\noauth-provider = generic\n\
         oauth-client-id = app\noauth-client-secret = s\noauth-user = fax@example.com\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:4: [VMAIL] oauth-token-url: is not set, and oauth-provider = generic has no default (the token endpoint, https://...)"
        ]
    );
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\noauth-provider = generic\n\
         oauth-client-id = app\noauth-client-secret = s\noauth-user = fax@example.com\n\
         oauth-token-url = http://auth.example.com/token\noauth-device-url = token\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:8: [VMAIL] oauth-token-url: \"http://auth.example.com/token\" is not HTTPS: tokens and secrets would cross the network in clear (https://...; http:// only on a loopback address such as 127.0.0.1)",
            "DIR/vsisrv.ini:9: [VMAIL] oauth-device-url: \"token\" is not a URL (https://host/path)",
        ]
    );
    let loaded = load_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\noauth-provider = generic\n\
         oauth-client-id = app\noauth-client-secret = s\noauth-user = fax@example.com\n\
         oauth-token-url = http://127.0.0.1:8080/token\noauth-scope = smtp  send\n",
    );
    let (_, o) = oauth_of(&loaded);
    assert_eq!(o.token_url, "http://127.0.0.1:8080/token");
    assert_eq!(o.scope, "smtp send");
    assert_eq!(o.device_url, None);
    assert_eq!(
        warnings(&dir, &loaded),
        [
            "DIR/vsisrv.ini:6: [VMAIL] oauth-client-secret: is stored in clear; encrypt it with `vfxadmin config -a -p -e VMAIL oauth-client-secret`"
        ]
    );
}

#[test]
fn every_missing_or_wrong_oauth_key_is_reported_at_once() {
    let dir = TempDir::new().unwrap();
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\nauth-type = xoauth2\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:4: [VMAIL] oauth-provider: is not set, and the OAuth login needs it (microsoft, google, generic)",
            "DIR/vsisrv.ini:4: [VMAIL] oauth-client-id: is not set (the Application (client) ID of the app registration)",
            "DIR/vsisrv.ini:4: [VMAIL] oauth-client-secret: is not set, and oauth-grant = client-credentials needs it (the secret's Value from the app registration; set it with `vfxadmin config -a -p -e VMAIL oauth-client-secret`)",
            "DIR/vsisrv.ini:4: [VMAIL] oauth-user: is not set (the mailbox vmail sends as: user= of XOAUTH2, a= of OAUTHBEARER, sub of a service-account assertion)",
        ]
    );
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\noauth-provider = yahoo\noauth-grant = password\n\
         oauth-tenant = contoso/evil\noauth-client-id = my app\noauth-user = fax\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:4: [VMAIL] oauth-provider: \"yahoo\" is not an OAuth provider (microsoft, google, generic)",
            "DIR/vsisrv.ini:5: [VMAIL] oauth-grant: \"password\" is not an OAuth grant (client-credentials, refresh-token, service-account)",
            "DIR/vsisrv.ini:6: [VMAIL] oauth-tenant: \"contoso/evil\" is not a tenant (the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com)",
            "DIR/vsisrv.ini:7: [VMAIL] oauth-client-id: \"my app\" is not a client ID (no spaces)",
            "DIR/vsisrv.ini:8: [VMAIL] oauth-user: \"fax\" is not an email address (user@domain)",
        ]
    );
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\noauth-provider = microsoft\n\
         oauth-grant = refresh-token\noauth-client-id = app\noauth-user = fax@contoso.com\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:4: [VMAIL] oauth-tenant: is not set, and oauth-provider = microsoft needs it (the Directory (tenant) ID or a verified domain, for example contoso.onmicrosoft.com)"
        ]
    );
}

#[test]
fn oauth_without_tls_needs_allow_plaintext_auth_like_a_password() {
    let dir = TempDir::new().unwrap();
    let errors = errors_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = none\noauth-provider = generic\n\
         oauth-client-id = app\noauth-client-secret = s\noauth-user = fax@example.com\n\
         oauth-token-url = https://auth.example.com/token\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:3: [VMAIL] tls: is none, so the login would cross the network unencrypted, and allow-plaintext-auth is no (tls = starttls or implicit, or allow-plaintext-auth = yes)"
        ]
    );
}

#[test]
fn a_password_beside_oauth_keys_is_ignored_and_a_password_type_ignores_them() {
    let dir = TempDir::new().unwrap();
    let loaded = load_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\nauth-rsp = fax:pw\noauth-provider = generic\n\
         oauth-client-id = app\noauth-client-secret = s\noauth-user = fax@example.com\n\
         oauth-token-url = https://auth.example.com/token\n",
    );
    let (auth, _) = oauth_of(&loaded);
    assert_eq!(auth, AuthType::Auto);
    assert!(loaded.config.smtp().unwrap().auth_responses.is_empty());
    assert_eq!(
        warnings(&dir, &loaded)[0],
        "DIR/vsisrv.ini:4: [VMAIL] auth-rsp: is ignored because auth-type = auto with the oauth-* keys logs in with an OAuth token, never a password"
    );

    let loaded = load_in(
        &dir,
        "[VMAIL]\nmail-server = mx\ntls = starttls\nauth-type = plain\nauth-rsp = fax:pw\n\
         oauth-provider = google\n",
    );
    let smtp = loaded.config.smtp().unwrap();
    assert_eq!(smtp.auth_type, AuthType::Plain);
    assert!(smtp.oauth.is_none());
    assert_eq!(
        warnings(&dir, &loaded),
        [
            "DIR/vsisrv.ini:5: [VMAIL] auth-rsp: is stored in clear; encrypt it with `vfxadmin config -a -p -e VMAIL auth-rsp`",
            "DIR/vsisrv.ini:6: [VMAIL] oauth-provider: is ignored because auth-type = plain (auto, xoauth2 or oauthbearer log in with OAuth)",
        ]
    );
}

#[test]
fn the_client_secret_is_a_secret_key_sealed_like_auth_rsp() {
    assert!(is_secret_key("VMAIL", "oauth-client-secret"));
    assert!(is_secret_key("vmail", "OAuth-Client-Secret"));
    let dir = TempDir::new().unwrap();
    let text = format!(
        "[VMAIL]\nmail-server = mx\ntls = starttls\noauth-provider = microsoft\noauth-tenant = t\n\
         oauth-client-id = app\n{}oauth-user = fax@contoso.com\n",
        sealed_secret(&dir)
    );
    fs::write(
        dir.path().join("vmail.key"),
        format!("{}\n", "ab".repeat(32)),
    )
    .unwrap();
    let errors = errors_in(&dir, &text);
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:7: [VMAIL] oauth-client-secret: cannot be decrypted: the value was changed or the key is not the one it was sealed with (key file DIR/vmail.key; set it again with `vfxadmin config -a -p -e VMAIL oauth-client-secret`)"
        ]
    );
    assert!(!errors.concat().contains(SECRET));
}
