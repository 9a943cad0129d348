//! `[VMAIL] mail-server` as a list of servers tried in order: what `load`
//! makes of it, and the lines an administrator reads for a bad entry.

use std::path::PathBuf;
use tempfile::TempDir;
use vmail_config::{ConfigErrors, Delivery, Loaded, load};
use vmail_core::{MailServer, SmtpSettings};

fn write_ini(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("vsisrv.ini");
    std::fs::write(&path, text).unwrap();
    path
}

fn loaded(text: &str) -> (TempDir, Loaded) {
    let dir = TempDir::new().unwrap();
    let path = write_ini(&dir, text);
    let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
    (dir, loaded)
}

fn smtp(loaded: &Loaded) -> &SmtpSettings {
    match &loaded.config.delivery {
        Delivery::Smtp(smtp) => smtp,
        other => panic!("not smtp: {other:?}"),
    }
}

fn errors_of(text: &str) -> Vec<String> {
    let dir = TempDir::new().unwrap();
    let path = write_ini(&dir, text);
    let err: ConfigErrors = load(&path).map(|l| l.config).expect_err("should not load");
    let root = dir.path().display().to_string();
    err.to_string()
        .lines()
        .map(|l| l.replace(&root, "DIR"))
        .collect()
}

#[test]
fn a_single_name_is_one_server_on_mail_port_as_before() {
    let (_dir, loaded) = loaded("[VMAIL]\nmail-server = smtp.example.com\nmail-port = 587\n");
    let smtp = smtp(&loaded);
    assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.example.com", 587));
    assert!(smtp.fallbacks.is_empty());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn a_list_is_tried_in_order_each_with_its_port_or_mail_port() {
    let (_dir, loaded) = loaded(
        "[VMAIL]\nmail-server = smtp1.example.com, smtp2.example.com:2525, [2001:db8::25]:587, 192.0.2.9\n\
         mail-port = 26\n",
    );
    let smtp = smtp(&loaded);
    assert_eq!(
        smtp.servers(),
        [
            MailServer::new("smtp1.example.com", 26),
            MailServer::new("smtp2.example.com", 2525),
            MailServer::new("2001:db8::25", 587),
            MailServer::new("192.0.2.9", 26),
        ]
    );
}

#[test]
fn the_first_server_may_have_its_own_port_and_implicit_tls_defaults_to_465() {
    let (_dir, loaded) = loaded(
        "[VMAIL]\nmail-server = smtp1.example.com:2525, smtp2.example.com\ntls = implicit\n",
    );
    let smtp = smtp(&loaded);
    assert_eq!((smtp.host.as_str(), smtp.port), ("smtp1.example.com", 2525));
    assert_eq!(smtp.fallbacks, [MailServer::new("smtp2.example.com", 465)]);
}

#[test]
fn every_bad_entry_is_reported_with_file_line_and_key() {
    let errors = errors_of(
        "[VMAIL]\n\
         from = fax@example.com\n\
         mail-server = smtp1.example.com,, smtp2.example.com:99999, [2001:db8::25:587, bad host, smtp3.example.com\n",
    );
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:3: [VMAIL] mail-server: has an empty entry in \"smtp1.example.com,, smtp2.example.com:99999, [2001:db8::25:587, bad host, smtp3.example.com\" (a comma-separated list of servers: host, host:port or [IPv6]:port)",
            "DIR/vsisrv.ini:3: [VMAIL] mail-server: \"smtp2.example.com:99999\": \"99999\" is not a port (1-65535)",
            "DIR/vsisrv.ini:3: [VMAIL] mail-server: \"[2001:db8::25:587\" has a \"[\" without its \"]\" (an IPv6 address with a port is written [2001:db8::25]:587)",
            "DIR/vsisrv.ini:3: [VMAIL] mail-server: \"bad host\" is not a host name (a host name or IP address, or file:DIR to capture mail into DIR)",
        ]
    );
}

#[test]
fn a_trailing_comma_is_an_empty_entry() {
    let errors = errors_of("[VMAIL]\nmail-server = smtp1.example.com,\n");
    assert_eq!(
        errors,
        [
            "DIR/vsisrv.ini:2: [VMAIL] mail-server: has an empty entry in \"smtp1.example.com,\" (a comma-separated list of servers: host, host:port or [IPv6]:port)"
        ]
    );
}

#[test]
fn a_server_listed_twice_is_a_warning_and_tried_once() {
    let (dir, loaded) = loaded("[VMAIL]\nmail-server = a.example, b.example, a.example:25\n");
    assert_eq!(
        smtp(&loaded).servers(),
        [
            MailServer::new("a.example", 25),
            MailServer::new("b.example", 25)
        ]
    );
    let root = dir.path().display().to_string();
    let warnings: Vec<String> = loaded
        .warnings
        .iter()
        .map(|w| w.to_string().replace(&root, "DIR"))
        .collect();
    assert_eq!(
        warnings,
        ["DIR/vsisrv.ini:2: [VMAIL] mail-server: lists a.example:25 twice (it is tried once)"]
    );
}
