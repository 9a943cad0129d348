//! Sealed `auth-rsp`/`pop-rsp` values through `load`: the key file's mode,
//! size and absence, tampering, a wrong key, and that no plaintext leaks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use tempfile::TempDir;
use vmail_config::secrets::{self, Key, SecretError};
use vmail_config::{ConfigErrors, Loaded, load};

const PASSWORD: &str = "s3cr3t-p@ss";

struct Setup {
    dir: TempDir,
    ini: PathBuf,
    key_path: PathBuf,
}

/// An ini whose auth-rsp and pop-rsp are sealed with a fresh key file.
fn sealed_setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let key_path = dir.path().join("vmail.key");
    let (key, created) = secrets::load_or_create_key(&key_path).unwrap();
    assert!(created);
    let ini = dir.path().join("vsisrv.ini");
    write_ini(&ini, &key);
    Setup { dir, ini, key_path }
}

fn write_ini(ini: &PathBuf, key: &Key) {
    let auth = secrets::seal(key, &format!("fax:{PASSWORD}")).unwrap();
    let pop = secrets::seal(key, &format!("popper:{PASSWORD}")).unwrap();
    let text = format!(
        "[VMAIL]\nmail-server = mx.example\nauth-type = plain\nauth-rsp = {auth}\npop-server = pop.example\npop-rsp = {pop}\n"
    );
    fs::write(ini, text).unwrap();
}

fn errors(s: &Setup) -> Vec<String> {
    let err: ConfigErrors = load(&s.ini).map(|l| l.config).unwrap_err();
    let root = s.dir.path().display().to_string();
    let text = err.to_string();
    assert!(!text.contains(PASSWORD), "{text}");
    text.lines().map(|l| l.replace(&root, "DIR")).collect()
}

#[test]
fn the_key_file_is_created_0600_as_64_hex_digits_and_never_overwritten() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("vmail.key");
    let (key, created) = secrets::load_or_create_key(&path).unwrap();
    assert!(created);
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 65, "{text:?}");
    assert!(text.trim_end().chars().all(|c| c.is_ascii_hexdigit()));
    let sealed = secrets::seal(&key, "x").unwrap();
    let (again, created) = secrets::load_or_create_key(&path).unwrap();
    assert!(!created);
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    assert_eq!(secrets::open(&again, &sealed).unwrap().expose(), "x");
}

#[test]
fn load_decrypts_sealed_values_into_plaintext_secrets() {
    let s = sealed_setup();
    let loaded: Loaded = load(&s.ini).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let smtp = loaded.config.smtp().unwrap();
    let rsp: Vec<&str> = smtp.auth_responses.iter().map(|r| r.expose()).collect();
    assert_eq!(rsp, ["fax", PASSWORD]);
    let pop = smtp.pop.as_ref().unwrap();
    assert_eq!(pop.responses[1].expose(), PASSWORD);
    let shown = format!("{loaded:?}");
    assert!(
        !shown.contains(PASSWORD),
        "Debug shows the password: {shown}"
    );
    assert!(shown.contains("Secret(<redacted>)"));
}

#[test]
fn a_key_file_readable_by_others_is_refused_with_the_fix() {
    let s = sealed_setup();
    fs::set_permissions(&s.key_path, fs::Permissions::from_mode(0o644)).unwrap();
    let fix = "is encrypted, but the key file cannot be used: DIR/vmail.key may be read or written by group or others (mode 0644), so vmail refuses it (run `chmod 600 DIR/vmail.key`)";
    assert_eq!(
        errors(&s),
        [
            format!("DIR/vsisrv.ini:4: [VMAIL] auth-rsp: {fix}"),
            format!("DIR/vsisrv.ini:6: [VMAIL] pop-rsp: {fix}"),
        ]
    );
    let err = secrets::load_key(&s.key_path).unwrap_err();
    assert!(matches!(
        err,
        SecretError::KeyPermissions { mode: 0o644, .. }
    ));
}

#[test]
fn a_tampered_value_names_the_key_and_its_line() {
    let s = sealed_setup();
    let text = fs::read_to_string(&s.ini).unwrap();
    let start = text.find("auth-rsp = enc:v1:").unwrap() + "auth-rsp = enc:v1:".len() + 20;
    let mut bytes = text.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    fs::write(&s.ini, bytes).unwrap();
    assert_eq!(
        errors(&s),
        [
            "DIR/vsisrv.ini:4: [VMAIL] auth-rsp: cannot be decrypted: the value was changed or the key is not the one it was sealed with (key file DIR/vmail.key; set it again with `vfxadmin config -a -p -e VMAIL auth-rsp`)"
        ]
    );
}

#[test]
fn another_key_cannot_open_the_values() {
    let s = sealed_setup();
    fs::remove_file(&s.key_path).unwrap();
    secrets::load_or_create_key(&s.key_path).unwrap();
    let errors = errors(&s);
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0].starts_with("DIR/vsisrv.ini:4: [VMAIL] auth-rsp: cannot be decrypted"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("DIR/vsisrv.ini:6: [VMAIL] pop-rsp: cannot be decrypted"),
        "{errors:?}"
    );
}

#[test]
fn a_missing_key_file_is_named() {
    let s = sealed_setup();
    fs::remove_file(&s.key_path).unwrap();
    assert_eq!(
        errors(&s)[0],
        "DIR/vsisrv.ini:4: [VMAIL] auth-rsp: is encrypted, but the key file cannot be used: DIR/vmail.key: No such file or directory (os error 2)"
    );
}

#[test]
fn a_key_of_the_wrong_size_is_named() {
    let s = sealed_setup();
    fs::write(&s.key_path, "abcdef\n").unwrap();
    assert!(
        errors(&s)[0].contains(
            "the key file cannot be used: DIR/vmail.key is not a vmail key (64 hexadecimal digits: 32 bytes)"
        ),
        "{:?}",
        errors(&s)
    );
}

#[test]
fn plain_values_work_with_a_warning_that_never_shows_them() {
    let dir = TempDir::new().unwrap();
    let ini = dir.path().join("vsisrv.ini");
    fs::write(
        &ini,
        format!("[VMAIL]\nmail-server = mx\nauth-rsp = fax:{PASSWORD}\n"),
    )
    .unwrap();
    let loaded = load(&ini).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].ends_with(
        ":3: [VMAIL] auth-rsp: is stored in clear; encrypt it with `vfxadmin config -a -p -e VMAIL auth-rsp`"
    ));
    assert!(!format!("{loaded:?}").contains(PASSWORD));
    assert_eq!(
        loaded.config.smtp().unwrap().auth_responses[1].expose(),
        PASSWORD
    );
}

#[test]
fn errors_about_a_secret_never_echo_it() {
    let dir = TempDir::new().unwrap();
    let ini = dir.path().join("vsisrv.ini");
    fs::write(
        &ini,
        format!("[VMAIL]\nmail-server = mx\nauth-rsp = {PASSWORD}\nmail-port = x\n"),
    )
    .unwrap();
    let err = load(&ini).map(|l| l.config).unwrap_err();
    let everything = format!("{err}\n{err:?}");
    assert_eq!(err.errors.len(), 2, "{everything}");
    assert!(!everything.contains(PASSWORD), "{everything}");
}
