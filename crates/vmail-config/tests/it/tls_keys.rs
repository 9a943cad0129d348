//! `[VMAIL] tls-cert-file`, `tls-key-file`, `tls-fingerprint` and
//! `tls-min-version` (issue 14): what they load into, and the exact lines
//! an administrator reads when one is wrong.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use tempfile::TempDir;
use vmail_config::{Delivery, load};
use vmail_core::{ClientCertificate, Fingerprint, SmtpSettings, TlsVersion};

const HEX: &str = "5ea420d513c57e1116d97cef4c8ab56d5f3dbef68dcf439d456cf940ed235a7b";
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

/// A directory with the ini, `client.pem` (0644) and `client.key` (`mode`).
fn setup(vmail: &str, key_mode: u32) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("client.pem"), CERT_PEM).unwrap();
    let key = dir.path().join("client.key");
    std::fs::write(&key, KEY_PEM).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(key_mode)).unwrap();
    let text = format!("[VMAIL]\nmail-server = smtp.example.com\ntls = starttls\n{vmail}");
    std::fs::write(dir.path().join("vsisrv.ini"), text).unwrap();
    dir
}

fn smtp(dir: &TempDir) -> SmtpSettings {
    let loaded = load(&dir.path().join("vsisrv.ini")).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    match loaded.config.delivery {
        Delivery::Smtp(settings) => settings,
        other => panic!("not smtp: {other:?}"),
    }
}

/// The error lines, the temp dir shown as `DIR`.
fn errors(dir: &TempDir) -> Vec<String> {
    let root = dir.path().display().to_string();
    match load(&dir.path().join("vsisrv.ini")) {
        Ok(_) => panic!("loaded"),
        Err(e) => e
            .errors
            .iter()
            .map(|d| d.to_string().replace(&root, "DIR"))
            .collect(),
    }
}

#[test]
fn unset_keys_give_no_client_certificate_no_pins_and_tls_1_2() {
    let settings = smtp(&setup("", 0o600));
    assert_eq!(settings.client_certificate, None);
    assert!(settings.tls_fingerprints.is_empty());
    assert_eq!(settings.tls_min_version, TlsVersion::V1_2);
}

#[test]
fn the_four_keys_load_with_paths_beside_the_ini() {
    let dir = setup(
        &format!(
            "tls-cert-file = client.pem\ntls-key-file = client.key\n\
             tls-fingerprint = sha256:{HEX} , SHA256:{}\ntls-min-version = 1.3\n",
            HEX.to_ascii_uppercase()
        ),
        0o600,
    );
    let settings = smtp(&dir);
    assert_eq!(
        settings.client_certificate,
        Some(ClientCertificate {
            cert_file: dir.path().join("client.pem"),
            key_file: dir.path().join("client.key"),
        })
    );
    let pin = Fingerprint::parse(&format!("sha256:{HEX}")).unwrap();
    assert_eq!(settings.tls_fingerprints, [pin, pin]);
    assert_eq!(settings.tls_min_version, TlsVersion::V1_3);
}

#[test]
fn a_key_file_group_or_others_may_read_is_refused_with_the_chmod_fix() {
    let dir = setup(
        "tls-cert-file = client.pem\ntls-key-file = client.key\n",
        0o640,
    );
    assert_eq!(
        errors(&dir),
        [
            "DIR/vsisrv.ini:5: [VMAIL] tls-key-file: DIR/client.key may be read or written by \
          group or others (mode 0640), so vmail refuses it (run `chmod 600 DIR/client.key`)"
        ]
    );
}

#[test]
fn half_a_pair_missing_files_and_files_of_the_wrong_kind_are_errors() {
    let dir = setup("tls-cert-file = client.pem\n", 0o600);
    assert_eq!(
        errors(&dir),
        [
            "DIR/vsisrv.ini:4: [VMAIL] tls-cert-file: is set without tls-key-file, the \
          certificate's private key (PEM)"
        ]
    );
    let dir = setup("tls-key-file = client.key\n", 0o600);
    assert_eq!(
        errors(&dir),
        [
            "DIR/vsisrv.ini:4: [VMAIL] tls-key-file: is set without tls-cert-file, the client \
          certificate (PEM)"
        ]
    );
    let dir = setup(
        "tls-cert-file = client.key\ntls-key-file = gone.key\n",
        0o600,
    );
    assert_eq!(
        errors(&dir),
        [
            "DIR/vsisrv.ini:4: [VMAIL] tls-cert-file: DIR/client.key holds no PEM certificate \
             (a PEM file with the client certificate)",
            "DIR/vsisrv.ini:5: [VMAIL] tls-key-file: cannot read DIR/gone.key: No such file or \
             directory (os error 2) (a PEM file with the certificate's private key)"
        ]
    );
}

#[test]
fn bad_fingerprints_and_versions_are_errors_that_say_what_is_allowed() {
    let allowed = "(sha256: and 64 hex digits, as `vfxadmin check` shows them; several \
                   separated by commas)";
    let dir = setup(
        &format!(
            "tls-fingerprint = sha256:{HEX}, {}\ntls-min-version = 1.1\n",
            &HEX[..60]
        ),
        0o600,
    );
    assert_eq!(
        errors(&dir),
        [
            format!(
                "DIR/vsisrv.ini:4: [VMAIL] tls-fingerprint: \"{}\" is not a certificate \
                 fingerprint {allowed}",
                &HEX[..60]
            ),
            "DIR/vsisrv.ini:5: [VMAIL] tls-min-version: \"1.1\" is not a TLS version (1.2 or 1.3)"
                .to_string(),
        ]
    );
    let dir = setup(&format!("tls-fingerprint = sha256:{HEX},\n"), 0o600);
    assert_eq!(
        errors(&dir),
        [format!(
            "DIR/vsisrv.ini:4: [VMAIL] tls-fingerprint: \"sha256:{HEX},\" has an empty entry \
             {allowed}"
        )]
    );
}

#[test]
fn a_pin_with_tls_verify_off_is_an_error_and_tls_none_ignores_the_keys() {
    let dir = setup(
        &format!("tls-verify = no\ntls-fingerprint = sha256:{HEX}\n"),
        0o600,
    );
    let errors = errors(&dir);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "DIR/vsisrv.ini:5: [VMAIL] tls-fingerprint: is set, and so is tls-verify = no"
        ),
        "{errors:?}"
    );

    let dir = TempDir::new().unwrap();
    let path = dir.path().join("vsisrv.ini");
    std::fs::write(
        &path,
        "[VMAIL]\nmail-server = mx\ntls = none\ntls-min-version = 1.3\n",
    )
    .unwrap();
    let loaded = load(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [format!(
            "{}:4: [VMAIL] tls-min-version: is ignored because tls = none",
            path.display()
        )]
    );
}
