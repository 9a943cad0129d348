//! What `load` makes of whole files, and the exact lines an administrator
//! reads when something is wrong.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use vmail_config::{ConfigErrors, Delivery, Loaded, load};
use vmail_core::{AuthType, DebugLevel, TlsMode};

fn write_ini(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("vsisrv.ini");
    std::fs::write(&path, text).unwrap();
    path
}

fn load_ok(text: &str) -> (TempDir, Loaded) {
    let dir = TempDir::new().unwrap();
    let path = write_ini(&dir, text);
    let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
    (dir, loaded)
}

/// The errors as lines, with the temp dir replaced by `DIR`.
fn errors_of(text: &str) -> Vec<String> {
    let dir = TempDir::new().unwrap();
    let path = write_ini(&dir, text);
    let err: ConfigErrors = load(&path).map(|l| l.config).expect_err("should not load");
    lines_of(&dir, &err.to_string())
}

fn lines_of(dir: &TempDir, text: &str) -> Vec<String> {
    let root = dir.path().display().to_string();
    text.lines().map(|l| l.replace(&root, "DIR")).collect()
}

fn warnings_of(dir: &TempDir, loaded: &Loaded) -> Vec<String> {
    let all: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    lines_of(dir, &all.join("\n"))
}

#[test]
fn a_minimal_file_gets_every_default() {
    let (dir, loaded) = load_ok("[VMAIL]\nmail-server = smtp.example.com\n");
    let c = &loaded.config;
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let Delivery::Smtp(smtp) = &c.delivery else {
        panic!("not smtp: {:?}", c.delivery)
    };
    assert_eq!(smtp.host, "smtp.example.com");
    assert_eq!(smtp.port, 25);
    assert_eq!(smtp.tls, TlsMode::Opportunistic);
    assert!(smtp.tls_verify);
    assert_eq!(
        smtp.auth_type,
        AuthType::None,
        "auto without auth-rsp is off"
    );
    assert!(smtp.pop.is_none());
    assert_eq!(smtp.timeout, Duration::from_secs(60));
    assert!(!smtp.helo_name.is_empty());
    assert_eq!(c.from, format!("vmail@{}", smtp.helo_name));
    assert_eq!(c.max_connections, 4);
    assert_eq!(c.retry, vmail_core::RetryPolicy::default());
    assert_eq!(c.debug, DebugLevel::Replies);
    assert_eq!(c.max_debug_log, 10 * 1024 * 1024);
    assert_eq!(c.max_message_size, 25 * 1024 * 1024);
    assert_eq!(c.spool, Path::new("/var/spool/vmail"));
    assert!(!c.sched_debug);
    assert_eq!(c.sent_retention, Duration::from_secs(7 * 86_400));
    assert_eq!(c.key_file, dir.path().join("vmail.key"));
}

#[test]
fn every_key_is_read_in_any_case() {
    let (dir, loaded) = load_ok(
        "[vmail]\nMAIL-SERVER = mx.example.org\nTLS = Implicit\nhelo-name = relay.example.org\n\
         from = fax@example.org\nmax-connections = 8\nretry-min = 30s\nretry-max = 2h\n\
         max-lifetime = 3d\ndebug = 2\nmax-debug-log = 512k\nmax-message-size = 1G\n\
         timeout = 5m\nauth-type = LOGIN\nauth-rsp = fax:pw\nallow-plaintext-auth = YES\n\
         key-file = keys/vmail.key\n[VfxSched]\nspool = spool\ndebug = On\nkeep-sent = 0\n",
    );
    let c = &loaded.config;
    let smtp = c.smtp().unwrap();
    assert_eq!(smtp.port, 465, "implicit TLS defaults to 465");
    assert_eq!(smtp.tls, TlsMode::Implicit);
    assert_eq!(smtp.helo_name, "relay.example.org");
    assert_eq!(smtp.auth_type, AuthType::Login);
    let rsp: Vec<&str> = smtp.auth_responses.iter().map(|s| s.expose()).collect();
    assert_eq!(rsp, ["fax", "pw"]);
    assert!(smtp.allow_plaintext_auth);
    assert_eq!(smtp.timeout, Duration::from_secs(300));
    assert_eq!(c.from, "fax@example.org");
    assert_eq!(c.max_connections, 8);
    assert_eq!(c.retry.min, Duration::from_secs(30));
    assert_eq!(c.retry.max, Duration::from_secs(7200));
    assert_eq!(c.retry.max_lifetime, Duration::from_secs(3 * 86_400));
    assert_eq!(c.debug, DebugLevel::Transcript);
    assert_eq!(c.max_debug_log, 512 * 1024);
    assert_eq!(c.max_message_size, 1 << 30);
    assert_eq!(
        c.spool,
        dir.path().join("spool"),
        "relative to the ini's directory"
    );
    assert_eq!(c.key_file, dir.path().join("keys/vmail.key"));
    assert!(c.sched_debug);
    assert_eq!(c.sent_retention, Duration::ZERO);
    assert_eq!(
        warnings_of(&dir, &loaded),
        [
            "DIR/vsisrv.ini:15: [VMAIL] auth-rsp: is stored in clear; encrypt it with `vfxadmin config -a -p -e VMAIL auth-rsp`"
        ]
    );
}

#[test]
fn a_bad_port_reads_exactly_like_this() {
    let errors = errors_of(
        "; vmail\n\n[VMAIL]\nmail-server = smtp.example.com\n\n# the port\nmail-port = 99999\n",
    );
    assert_eq!(
        errors,
        ["DIR/vsisrv.ini:7: [VMAIL] mail-port: \"99999\" is not a port (1-65535)"]
    );
}

#[test]
fn every_error_is_reported_at_once_in_line_order() {
    let errors = errors_of(
        "[VMAIL]\n\
         mail-port = 0\n\
         tls = sometimes\n\
         auth-type = gssapi\n\
         this line has no equals sign\n\
         tls-verify = perhaps\n\
         retry-min = 2h\n\
         retry-max = 1h\n\
         timeout = 5 minutes\n\
         max-debug-log = 10T\n\
         debug = 3\n\
         [VFXSCHED]\n\
         debug = sometimes\n\
         keep-sent = 1w\n\
         [VMAIL\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:1: [VMAIL] mail-server: is not set (the mail server's host name, or file:DIR to capture mail into DIR)",
            "DIR/vsisrv.ini:2: [VMAIL] mail-port: \"0\" is not a port (1-65535)",
            "DIR/vsisrv.ini:3: [VMAIL] tls: \"sometimes\" is not a TLS mode (none, opportunistic, starttls, implicit)",
            "DIR/vsisrv.ini:4: [VMAIL] auth-type: \"gssapi\" is not an auth type (none, auto, plain, login, cram-md5, xoauth2, oauthbearer)",
            "DIR/vsisrv.ini:5: malformed line: no \"=\" (a line is \"key = value\", \"[SECTION]\", or a comment starting with ; or #)",
            "DIR/vsisrv.ini:6: [VMAIL] tls-verify: \"perhaps\" is not a boolean (On/Off, yes/no, true/false, 1/0)",
            "DIR/vsisrv.ini:7: [VMAIL] retry-min: 2h is longer than retry-max 1h (retry-min must not exceed retry-max)",
            "DIR/vsisrv.ini:9: [VMAIL] timeout: \"5 minutes\" is not a duration (seconds, or a number with s, m, h or d: 30, 30s, 5m, 2h, 5d)",
            "DIR/vsisrv.ini:10: [VMAIL] max-debug-log: \"10T\" is not a size (bytes, or a number with k, M or G: 65536, 512k, 10M, 1G)",
            "DIR/vsisrv.ini:11: [VMAIL] debug: \"3\" is not a debug level (0 quiet, 1 attempts and replies, 2 full transcript)",
            "DIR/vsisrv.ini:13: [VFXSCHED] debug: \"sometimes\" is not a boolean (On/Off, yes/no, true/false, 1/0)",
            "DIR/vsisrv.ini:14: [VFXSCHED] keep-sent: \"1w\" is not a duration (seconds, or a number with s, m, h or d: 30, 30s, 5m, 2h, 5d)",
            "DIR/vsisrv.ini:15: malformed section header (a section is written [NAME] alone on its line)",
        ]
    );
}

#[test]
fn a_missing_file_is_a_whole_file_error() {
    let dir = TempDir::new().unwrap();
    let err = load(&dir.path().join("none.ini"))
        .map(|l| l.config)
        .unwrap_err();
    assert_eq!(
        lines_of(&dir, &err.to_string()),
        ["DIR/none.ini: cannot read the configuration: No such file or directory (os error 2)"]
    );
}

#[test]
fn an_empty_file_says_mail_server_is_missing_without_a_line() {
    assert_eq!(
        errors_of(""),
        [
            "DIR/vsisrv.ini: [VMAIL] mail-server: is not set (the mail server's host name, or file:DIR to capture mail into DIR)"
        ]
    );
}

#[test]
fn auth_rsp_must_split_into_user_and_secret() {
    let errors =
        errors_of("[VMAIL]\nmail-server = mx\nauth-type = cram-md5\nauth-rsp = justauser\n");
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:4: [VMAIL] auth-rsp: does not split into a user and a secret on \":\" (user:secret; if the password contains \":\", set auth-delim to a character it does not contain)"
        ]
    );
    assert!(
        !errors[0].contains("justauser"),
        "the value is never echoed"
    );
}

#[test]
fn a_mechanism_without_auth_rsp_and_pop_without_pop_rsp_are_errors() {
    let errors =
        errors_of("[VMAIL]\nmail-server = mx\nauth-type = plain\npop-server = pop.example\n");
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:3: [VMAIL] auth-type: \"plain\" needs auth-rsp, the user and the password (`vfxadmin config -a -p -e VMAIL auth-rsp`, or auth-type = none)",
            "DIR/vsisrv.ini:4: [VMAIL] pop-server: needs pop-rsp, the POP3 user and password (`vfxadmin config -a -p -e VMAIL pop-rsp`)",
        ]
    );
}

#[test]
fn auth_delim_splits_a_password_full_of_colons() {
    let (_dir, loaded) = load_ok(
        "[VMAIL]\nmail-server = mx\nauth-type = login\nauth-delim = |\nauth-rsp = fax|pa:ss:wd\n\
         pop-server = pop.example\npop-tls = yes\npop-rsp = popper|x:y\npop-delay = 1s\n",
    );
    let smtp = loaded.config.smtp().unwrap();
    let rsp: Vec<&str> = smtp.auth_responses.iter().map(|s| s.expose()).collect();
    assert_eq!(rsp, ["fax", "pa:ss:wd"]);
    let pop = smtp.pop.as_ref().unwrap();
    assert_eq!(
        (pop.host.as_str(), pop.port, pop.tls),
        ("pop.example", 995, true)
    );
    let rsp: Vec<&str> = pop.responses.iter().map(|s| s.expose()).collect();
    assert_eq!(rsp, ["popper", "x:y"]);
    assert_eq!(pop.delay, Duration::from_secs(1));
}

#[test]
fn risky_settings_and_unknown_names_are_warnings_with_their_line() {
    let dir = TempDir::new().unwrap();
    let path = write_ini(
        &dir,
        "stray = 1\n[VMAIL]\nmail-server = mx\ntls = implicit\nmail-port = 25\ntls-verify = no\n\
         colour = blue\npop-rsp = a:b\n[FAX]\nmodem = 1\n[vmail]\nmail-prot = 26\n",
    );
    let loaded = load(&path).unwrap();
    // The list of known keys grows with every new key: its start and one
    // key of each kind are checked, not the whole list.
    let mut warnings = warnings_of(&dir, &loaded);
    let known = "DIR/vsisrv.ini:7: [VMAIL] colour: unknown key, ignored (known keys: mail-server, mail-port, tls, tls-verify, ca-file, ";
    let colour = warnings
        .iter_mut()
        .find(|w| w.starts_with(known))
        .unwrap_or_else(|| panic!("no warning about colour"));
    for key in [
        "helo-name",
        "auth-rsp",
        "key-file",
        "oauth-device-url",
        "tls-fingerprint",
    ] {
        assert!(
            colour.contains(&format!(" {key},")) || colour.contains(&format!(" {key})")),
            "{colour}"
        );
    }
    *colour = "colour".to_string();
    assert_eq!(
        warnings,
        [
            "DIR/vsisrv.ini:1: stray: is outside any section, ignored (put it under [VMAIL] or [VFXSCHED])",
            "DIR/vsisrv.ini:5: [VMAIL] mail-port: 25 is the plain SMTP port, but tls = implicit starts TLS before the greeting (465 for implicit TLS, or tls = starttls)",
            "DIR/vsisrv.ini:6: [VMAIL] tls-verify: is off: the server's certificate is not checked, so anyone on the way can read the mail and the password (tls-verify = yes)",
            "colour",
            "DIR/vsisrv.ini:8: [VMAIL] pop-rsp: is ignored because pop-server is not set",
            "DIR/vsisrv.ini:9: [FAX]: unknown section, ignored (vmail reads [VMAIL] and [VFXSCHED])",
            "DIR/vsisrv.ini:12: [VMAIL] mail-prot: unknown key, ignored (did you mean mail-port?)",
        ]
    );
    assert_eq!(loaded.config.smtp().unwrap().port, 25);
}

#[test]
fn plain_smtp_on_465_is_a_warning_and_plaintext_auth_needs_consent() {
    let errors =
        errors_of("[VMAIL]\nmail-server = mx\ntls = none\nmail-port = 465\nauth-rsp = u:p\n");
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:3: [VMAIL] tls: is none, so the login would cross the network unencrypted, and allow-plaintext-auth is no (tls = starttls or implicit, or allow-plaintext-auth = yes)"
        ]
    );
    let (dir, loaded) = load_ok(
        "[VMAIL]\nmail-server = mx\ntls = none\nmail-port = 465\nauth-rsp = u:p\nallow-plaintext-auth = on\n",
    );
    assert_eq!(loaded.config.smtp().unwrap().auth_type, AuthType::Auto);
    assert_eq!(
        warnings_of(&dir, &loaded)[0],
        "DIR/vsisrv.ini:4: [VMAIL] mail-port: 465 is the implicit TLS port, but tls = none (tls = implicit for port 465)"
    );
}

#[test]
fn a_key_set_twice_is_an_error_naming_both_lines() {
    let errors = errors_of("[VMAIL]\nmail-server = a\n[VFXSCHED]\n[VMAIL]\nMail-Server = b\n");
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:5: [VMAIL] mail-server: is set twice, first on line 2 (set each key once)"
        ]
    );
}

#[test]
fn quotes_and_backslashes_are_kept_as_written() {
    let (dir, loaded) = load_ok(
        "[VMAIL]\nmail-server = file:C:\\vsifax\\capture\\\nhelo-name = \"x\"\n[VFXSCHED]\nspool = C:\\vsifax\\spool\n",
    );
    let c = &loaded.config;
    assert_eq!(c.smtp(), None);
    assert_eq!(
        c.delivery,
        Delivery::Capture {
            dir: dir.path().join("C:\\vsifax\\capture\\")
        },
        "the line ending in a backslash is not joined with the next"
    );
    assert_eq!(c.spool, dir.path().join("C:\\vsifax\\spool"));
    let (_dir, loaded) = load_ok("[VMAIL]\nmail-server = mx\nhelo-name = \"x\"\n");
    assert_eq!(loaded.config.smtp().unwrap().helo_name, "\"x\"");
}

#[test]
fn capture_mode_takes_a_directory() {
    let (_dir, loaded) = load_ok("[VMAIL]\nmail-server = file:/var/spool/vmail/capture\n");
    assert_eq!(
        loaded.config.delivery,
        Delivery::Capture {
            dir: PathBuf::from("/var/spool/vmail/capture")
        }
    );
    assert_eq!(
        errors_of("[VMAIL]\nmail-server = file:\n"),
        [
            "DIR/vsisrv.ini:2: [VMAIL] mail-server: \"file:\" names no directory (file:DIR, for example file:/var/spool/vmail/capture)"
        ]
    );
}

#[test]
fn a_missing_ca_file_is_an_error() {
    let errors = errors_of("[VMAIL]\nmail-server = mx\nca-file = certs/ca.pem\n");
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:3: [VMAIL] ca-file: cannot read DIR/certs/ca.pem: No such file or directory (os error 2) (a PEM file of CA certificates)"
        ]
    );
}

#[test]
fn the_shipped_configuration_loads_without_errors() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/vsisrv.ini");
    let loaded = load(&shipped).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;
    assert_eq!(
        c.delivery,
        Delivery::Capture {
            dir: PathBuf::from("/var/spool/vmail/capture")
        }
    );
    assert_eq!(c.spool, Path::new("/var/spool/vmail"));
}

#[test]
fn a_file_saved_by_a_windows_editor_loads() {
    let (_dir, loaded) = load_ok(
        "\u{feff}; VSI-FAX\r\n[VMAIL]\r\nmail-server = mx.example\r\nmail-port = 587\r\n[VFXSCHED]\r\nspool = C:\\vsifax\\spool\r\n",
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.smtp().unwrap().port, 587);
    assert!(loaded.config.spool.ends_with("C:\\vsifax\\spool"));
}

#[test]
fn local_names_keys_are_read_and_checked() {
    let (_dir, loaded) = load_ok(
        "[VMAIL]\nmail-server = smtp.example.com\nadmin-address = admin@example.com\nlocal-domain = Host.Example.com\n",
    );
    assert_eq!(
        loaded.config.admin_address.as_deref(),
        Some("admin@example.com")
    );
    assert_eq!(
        loaded.config.local_domain.as_deref(),
        Some("host.example.com")
    );
    let (_dir, loaded) = load_ok("[VMAIL]\nmail-server = smtp.example.com\n");
    assert_eq!(
        (loaded.config.admin_address, loaded.config.local_domain),
        (None, None)
    );
    assert_eq!(
        errors_of(
            "[VMAIL]\nmail-server = smtp.example.com\nadmin-address = root\nlocal-domain = root@example.com\n"
        ),
        [
            "DIR/vsisrv.ini:3: [VMAIL] admin-address: \"root\" is not an email address (user@domain)",
            "DIR/vsisrv.ini:4: [VMAIL] local-domain: \"root@example.com\" is not a domain (a domain name such as example.com, without @)",
        ]
    );
}
