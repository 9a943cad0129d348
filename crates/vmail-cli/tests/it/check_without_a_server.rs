//! `vfxadmin check` where no SMTP conversation happens: capture mode, a bad
//! configuration, nothing listening; and its man page.
use crate::check_support;
use crate::common;

use check_support::*;

#[test]
fn capture_mode_has_nothing_to_check() {
    let env = CheckEnv::new("mail-server = file:capture");
    let run = env.check(&[]);
    assert_exit(&run, 0);
    let dir = env.dir.path().join("capture");
    assert_eq!(
        run.stdout,
        format!(
            "capture mode, nothing to check: [VMAIL] mail-server = file:{} in {} writes each \
             message into that folder instead of sending it; set mail-server to the mail \
             server's host name to relay by SMTP\n",
            dir.display(),
            env.ini().display()
        )
    );
}

#[test]
fn a_bad_configuration_is_reported_like_the_other_commands() {
    let env = CheckEnv::new("mail-server = 127.0.0.1\ntls = sometimes\ntimeout = 0");
    let run = env.check(&[]);
    assert_exit(&run, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let ini = env.ini();
    assert_eq!(
        run.stderr,
        format!(
            "vfxadmin: {0}:4: [VMAIL] tls: \"sometimes\" is not a TLS mode (none, \
             opportunistic, starttls, implicit)\n{0}:5: [VMAIL] timeout: \"0\" is zero (a \
             duration of 1s or more)\n",
            ini.display()
        )
    );
}

#[test]
fn nothing_listening_is_connection_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let run = CheckEnv::fault(port, "").check(&[]);
    assert_exit(&run, 1);
    assert_eq!(
        verdicts(&run),
        vec![format!(
            "[FAIL] connection refused by 127.0.0.1:{port}: nothing listens there; check [VMAIL] \
             mail-server and mail-port"
        )]
    );
}

#[test]
fn json_output_carries_the_same_verdicts() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let run = CheckEnv::fault(port, "").check(&["--json"]);
    assert_exit(&run, 1);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["works"], false);
    assert_eq!(value["server"], format!("127.0.0.1:{port}"));
    assert_eq!(value["verdicts"][0]["level"], "fail");
    assert!(
        value["verdicts"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("connection refused by ")
    );
    assert!(
        value["transcript"][0]
            .as_str()
            .unwrap()
            .contains("connecting to")
    );
}

#[test]
fn the_man_page_documents_check() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::run_in(dir.path(), "vmail-docgen", &["out"], b"", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let page = std::fs::read_to_string(dir.path().join("out/man/vfxadmin-check.1")).unwrap();
    assert!(
        page.contains("send\\-test") && page.contains("[FAIL]"),
        "{page}"
    );
    let bash =
        std::fs::read_to_string(dir.path().join("out/completions/bash/vfxadmin.bash")).unwrap();
    assert!(bash.contains("--send-test"), "check is completed");
}
