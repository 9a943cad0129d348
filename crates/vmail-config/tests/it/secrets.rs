//! Sealed `auth-rsp`/`pop-rsp` values through `load`: the key file's mode,
//! size and absence, tampering, a wrong key, and that no plaintext leaks.

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

/// Replaces the sealed `auth-rsp` value by `value` (pop-rsp keeps its own).
fn set_auth_rsp(s: &Setup, value: &str) {
    let text = fs::read_to_string(&s.ini).unwrap();
    let line = text.lines().find(|l| l.starts_with("auth-rsp = ")).unwrap();
    fs::write(&s.ini, text.replace(line, &format!("auth-rsp = {value}"))).unwrap();
}

#[test]
fn a_truncated_or_mangled_value_is_named_with_the_key_file_and_the_fix() {
    let s = sealed_setup();
    let text = fs::read_to_string(&s.ini).unwrap();
    let sealed = text
        .lines()
        .find_map(|l| l.strip_prefix("auth-rsp = "))
        .unwrap()
        .to_string();
    let fix =
        "(key file DIR/vmail.key; set it again with `vfxadmin config -a -p -e VMAIL auth-rsp`)";
    let malformed = format!("is not a sealed value (enc:v1: and base64) {fix}");
    let rejected = format!(
        "cannot be decrypted: the value was changed or the key is not the one it was sealed with {fix}"
    );
    let cases = [
        // Cut in the middle of the base64: no longer base64 of whole bytes.
        (sealed[..sealed.len() / 2 + 1].to_string(), &malformed),
        // Cut on a base64 boundary: valid base64, the tag is wrong.
        (sealed[..sealed.len() - 4].to_string(), &rejected),
        // Shorter than a nonce and a tag.
        ("enc:v1:AAAAAAAA".to_string(), &malformed),
        ("enc:v1:".to_string(), &malformed),
        ("enc:".to_string(), &malformed),
        (format!("{sealed}!"), &malformed),
    ];
    for (value, expected) in cases {
        set_auth_rsp(&s, &value);
        assert_eq!(
            errors(&s),
            [format!("DIR/vsisrv.ini:4: [VMAIL] auth-rsp: {expected}")],
            "value {value:?}"
        );
    }
}

#[test]
fn a_value_sealed_under_another_key_names_the_key_file_in_full() {
    let s = sealed_setup();
    fs::remove_file(&s.key_path).unwrap();
    secrets::load_or_create_key(&s.key_path).unwrap();
    let expected = |key: &str, line: u32| {
        format!(
            "DIR/vsisrv.ini:{line}: [VMAIL] {key}: cannot be decrypted: the value was changed or the key is not the one it was sealed with (key file DIR/vmail.key; set it again with `vfxadmin config -a -p -e VMAIL {key}`)"
        )
    };
    assert_eq!(
        errors(&s),
        [expected("auth-rsp", 4), expected("pop-rsp", 6)]
    );
}

#[test]
fn key_files_that_are_empty_short_long_not_hex_or_not_files_are_named() {
    let s = sealed_setup();
    let not_a_key = "is encrypted, but the key file cannot be used: DIR/vmail.key is not a vmail key (64 hexadecimal digits: 32 bytes)";
    let contents: [(&str, String); 7] = [
        ("empty", String::new()),
        ("a line break only", "\n".to_string()),
        ("63 digits", "a".repeat(63)),
        ("65 digits", "a".repeat(65)),
        ("two keys", format!("{0}\n{0}\n", "a".repeat(64))),
        ("not hexadecimal", "g".repeat(64)),
        ("not ASCII", format!("{}é", "a".repeat(62))),
    ];
    for (what, text) in contents {
        fs::write(&s.key_path, &text).unwrap();
        assert_eq!(
            errors(&s),
            [
                format!("DIR/vsisrv.ini:4: [VMAIL] auth-rsp: {not_a_key}"),
                format!("DIR/vsisrv.ini:6: [VMAIL] pop-rsp: {not_a_key}"),
            ],
            "{what}"
        );
    }
    fs::remove_file(&s.key_path).unwrap();
    fs::create_dir(&s.key_path).unwrap();
    assert_eq!(
        errors(&s)[0],
        "DIR/vsisrv.ini:4: [VMAIL] auth-rsp: is encrypted, but the key file cannot be used: DIR/vmail.key is not a regular file"
    );
}

#[test]
fn a_key_file_group_may_write_is_refused_too() {
    let s = sealed_setup();
    for mode in [0o620, 0o604, 0o660] {
        fs::set_permissions(&s.key_path, fs::Permissions::from_mode(mode)).unwrap();
        let errors = errors(&s);
        assert!(
            errors[0].ends_with(&format!(
                "may be read or written by group or others (mode {mode:04o}), so vmail refuses it (run `chmod 600 DIR/vmail.key`)"
            )),
            "{errors:?}"
        );
    }
    fs::set_permissions(&s.key_path, fs::Permissions::from_mode(0o400)).unwrap();
    load(&s.ini).unwrap_or_else(|e| panic!("a read-only key is fine: {e}"));
}
