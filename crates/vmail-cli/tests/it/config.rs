//! `vfxadmin config`, run as the real binary with standard input piped (not
//! a terminal), so `-p` reads the value and its confirmation as two lines.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

const PASSWORD: &str = "pa:ss#;wd\\\"x";

const INI: &str = "\
; test configuration
[VMAIL]
; where mail goes
mail-server = smtp.example.com

; AUTH
auth-type = login
;auth-rsp = enc:v1:...

[VFXSCHED]
spool = C:\\vsifax\\spool
";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn vfxadmin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    vfxadmin_env(dir, args, stdin, None)
}

fn vfxadmin_env(dir: &Path, args: &[&str], stdin: &str, vsifax: Option<&Path>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vfxadmin"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("VSIFAX")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(root) = vsifax {
        cmd.env("VSIFAX", root);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    };
    assert!(
        !run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD),
        "the password was printed: {} {}",
        run.stdout,
        run.stderr
    );
    run
}

fn setup() -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let ini = dir.path().join("vsisrv.ini");
    fs::write(&ini, INI).unwrap();
    (dir, ini)
}

#[test]
fn get_prints_a_value_as_written() {
    let (dir, _) = setup();
    let run = vfxadmin(
        dir.path(),
        &["-c", "vsisrv.ini", "config", "vfxsched", "SPOOL"],
        "",
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, "C:\\vsifax\\spool\n"));
}

#[test]
fn get_of_a_missing_key_says_so_and_fails() {
    let (dir, _) = setup();
    let run = vfxadmin(
        dir.path(),
        &["config", "-c", "vsisrv.ini", "VMAIL", "pop-server"],
        "",
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "vfxadmin: [VMAIL] pop-server is not set in vsisrv.ini (vmail uses its default, if it has one)\n"
    );
}

#[test]
fn the_seed_form_seals_the_prompted_value_and_load_gives_it_back() {
    let (dir, ini) = setup();
    let input = format!("fax|{PASSWORD}\nfax|{PASSWORD}\n");
    let run = vfxadmin(
        dir.path(),
        &[
            "-c",
            "vsisrv.ini",
            "config",
            "-a",
            "VMAIL",
            "auth-delim",
            "|",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = vfxadmin(
        dir.path(),
        &[
            "--config",
            "vsisrv.ini",
            "config",
            "-a",
            "-p",
            "-e",
            "VMAIL",
            "auth-rsp",
        ],
        &input,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "[VMAIL] auth-rsp set in vsisrv.ini (encrypted)\n"
    );
    assert_eq!(
        run.stderr,
        "vfxadmin: created the key file vmail.key (mode 0600); keep a copy: without it the encrypted values cannot be read\n"
    );

    let key_mode = fs::metadata(dir.path().join("vmail.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let text = fs::read_to_string(&ini).unwrap();
    let sealed_line = text.lines().find(|l| l.starts_with("auth-rsp = ")).unwrap();
    assert!(
        sealed_line.starts_with("auth-rsp = enc:v1:"),
        "{sealed_line}"
    );
    let expected = INI
        .replace(
            ";auth-rsp = enc:v1:...\n",
            &format!(";auth-rsp = enc:v1:...\n{sealed_line}\n"),
        )
        .replace("auth-type = login\n", "auth-type = login\nauth-delim = |\n");
    assert_eq!(text, expected, "only the two lines were added");

    let loaded = vmail_config::load(&ini).unwrap_or_else(|e| panic!("{e}"));
    let smtp = loaded.config.smtp().unwrap();
    let rsp: Vec<&str> = smtp.auth_responses.iter().map(|s| s.expose()).collect();
    assert_eq!(rsp, ["fax", PASSWORD]);

    let run = vfxadmin(
        dir.path(),
        &["-c", "vsisrv.ini", "config", "VMAIL", "auth-rsp"],
        "",
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, "<encrypted>\n"));
}

#[test]
fn a_mismatch_writes_nothing_not_even_the_key_file() {
    let (dir, ini) = setup();
    let input = format!("fax:{PASSWORD}\nfax:{PASSWORD}-typo\n");
    let run = vfxadmin(
        dir.path(),
        &["-c", "vsisrv.ini", "config", "-ape", "VMAIL", "auth-rsp"],
        &input,
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vfxadmin: the two entries differ; nothing was written\n"
    );
    assert_eq!(fs::read_to_string(&ini).unwrap(), INI);
    assert!(!dir.path().join("vmail.key").exists());
    let run = vfxadmin(
        dir.path(),
        &["-c", "vsisrv.ini", "config", "-ap", "VMAIL", "auth-rsp"],
        "only one line\n",
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vfxadmin: standard input ended before the value and its confirmation (two lines); nothing was written\n"
    );
    assert_eq!(fs::read_to_string(&ini).unwrap(), INI);
}

#[test]
fn replacing_a_value_keeps_the_file_mode_and_reports_a_bad_value() {
    let (dir, ini) = setup();
    fs::set_permissions(&ini, fs::Permissions::from_mode(0o640)).unwrap();
    let run = vfxadmin(
        dir.path(),
        &[
            "-c",
            "vsisrv.ini",
            "config",
            "-a",
            "vmail",
            "MAIL-SERVER",
            "mx.example.org",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "[vmail] MAIL-SERVER set in vsisrv.ini\n");
    assert_eq!(
        fs::read_to_string(&ini).unwrap(),
        INI.replace("smtp.example.com", "mx.example.org")
    );
    assert_eq!(
        fs::metadata(&ini).unwrap().permissions().mode() & 0o777,
        0o640
    );

    let before = fs::read(&ini).unwrap();
    let run = vfxadmin(
        dir.path(),
        &[
            "-c",
            "vsisrv.ini",
            "config",
            "-a",
            "VMAIL",
            "mail-port",
            "99999",
        ],
        "",
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "vfxadmin: error: vsisrv.ini:8: [VMAIL] mail-port: \"99999\" is not a port (1-65535)\n"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read(&ini).unwrap(), before, "nothing is written");
}

/// The error lines `vfxadmin config -a` prints about the file as it was
/// before the change (INI's auth-type = login has no auth-rsp).
const ALREADY: &str = "vfxadmin: error (in the file before this change too): vsisrv.ini:7: [VMAIL] auth-type: \"login\" needs auth-rsp, the user and the password (`vfxadmin config -a -p -e VMAIL auth-rsp`, or auth-type = none)\n";

fn refused(key: &str) -> String {
    format!(
        "vfxadmin: nothing written: with this [VMAIL] {key} vsisrv.ini would not load, so vmaild would not start or reload; correct the value, or write it anyway with --force\n"
    )
}

#[test]
fn a_value_that_would_break_the_file_is_refused_and_nothing_is_written() {
    let (dir, ini) = setup();
    for (key, value, error) in [
        (
            "mail-port",
            "banana",
            "vsisrv.ini:8: [VMAIL] mail-port: \"banana\" is not a port (1-65535)",
        ),
        (
            "tls",
            "bogus",
            "vsisrv.ini:8: [VMAIL] tls: \"bogus\" is not a TLS mode (none, opportunistic, starttls, implicit)",
        ),
        (
            "tls-min-version",
            "1.1",
            "vsisrv.ini:8: [VMAIL] tls-min-version: \"1.1\" is not a TLS version (1.2 or 1.3)",
        ),
        (
            "tls-fingerprint",
            "sha256:abcd",
            "vsisrv.ini:8: [VMAIL] tls-fingerprint: \"sha256:abcd\" is not a certificate fingerprint (sha256: and 64 hex digits, as `vfxadmin check` shows them; several separated by commas)",
        ),
    ] {
        let run = vfxadmin(
            dir.path(),
            &["-c", "vsisrv.ini", "config", "-a", "VMAIL", key, value],
            "",
        );
        assert_eq!(run.code, 1, "{key} {value}: {}", run.stderr);
        assert_eq!(run.stdout, "");
        assert_eq!(
            run.stderr,
            format!("{ALREADY}vfxadmin: error: {error}\n{}", refused(key))
        );
        assert_eq!(
            fs::read(&ini).unwrap(),
            INI.as_bytes(),
            "{key}: file changed"
        );
    }
    // A list of servers gets the same check as any other value.
    let run = vfxadmin(
        dir.path(),
        &[
            "-c",
            "vsisrv.ini",
            "config",
            "-a",
            "VMAIL",
            "mail-server",
            "smtp1.example.com, smtp2.example.com:banana",
        ],
        "",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("vfxadmin: error: vsisrv.ini:4: [VMAIL] mail-server: "),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read(&ini).unwrap(), INI.as_bytes());
}

#[test]
fn force_writes_a_bad_value_anyway_and_says_so() {
    let (dir, ini) = setup();
    let run = vfxadmin(
        dir.path(),
        &[
            "-c",
            "vsisrv.ini",
            "config",
            "-a",
            "--force",
            "VMAIL",
            "mail-port",
            "banana",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "[VMAIL] mail-port set in vsisrv.ini\n");
    assert_eq!(
        run.stderr,
        format!(
            "{ALREADY}vfxadmin: error: vsisrv.ini:8: [VMAIL] mail-port: \"banana\" is not a port (1-65535)\n\
             vfxadmin: written anyway (--force): vmaild will not start or reload until the error is corrected\n"
        )
    );
    assert_eq!(
        fs::read_to_string(&ini).unwrap(),
        INI.replace(
            "auth-type = login\n",
            "auth-type = login\nmail-port = banana\n"
        )
    );
}

#[test]
fn a_client_key_others_may_read_is_refused_and_after_chmod_accepted() {
    let (dir, ini) = setup();
    fs::write(
        dir.path().join("client.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let key = dir.path().join("client.key");
    fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let set = |key: &str, value: &str, extra: &[&str]| {
        let mut args = vec!["-c", "vsisrv.ini", "config", "-a"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["VMAIL", key, value]);
        vfxadmin(dir.path(), &args, "")
    };
    // The first of the pair alone is an error: --force writes it.
    let run = set("tls-cert-file", "client.pem", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("is set without tls-key-file"),
        "{}",
        run.stderr
    );
    let run = set("tls-cert-file", "client.pem", &["--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = fs::read(&ini).unwrap();

    let run = set("tls-key-file", "client.key", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "vfxadmin: error: vsisrv.ini:9: [VMAIL] tls-key-file: client.key may be read or written by group or others (mode 0644), so vmail refuses it (run `chmod 600 client.key`)\n"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read(&ini).unwrap(), written, "nothing is written");

    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let run = set("tls-key-file", "client.key", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr, ALREADY,
        "the pair is complete: only the old error is left"
    );
}

#[test]
fn a_clear_secret_is_written_with_a_warning() {
    let (dir, _) = setup();
    let run = vfxadmin(
        dir.path(),
        &[
            "-c",
            "vsisrv.ini",
            "config",
            "-a",
            "VMAIL",
            "auth-rsp",
            "fax:pw",
        ],
        "",
    );
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stderr,
        "vfxadmin: warning: vsisrv.ini:9: [VMAIL] auth-rsp: is stored in clear; encrypt it with `vfxadmin config -a -p -e VMAIL auth-rsp`\n"
    );
}

#[test]
fn a_key_file_open_to_others_is_refused_and_nothing_is_written() {
    let (dir, ini) = setup();
    let key = dir.path().join("vmail.key");
    fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let input = format!("fax:{PASSWORD}\nfax:{PASSWORD}\n");
    let run = vfxadmin(
        dir.path(),
        &[
            "-c",
            "vsisrv.ini",
            "config",
            "-a",
            "-p",
            "-e",
            "VMAIL",
            "auth-rsp",
        ],
        &input,
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vfxadmin: cannot encrypt [VMAIL] auth-rsp: vmail.key may be read or written by group or others (mode 0644), so vmail refuses it (run `chmod 600 vmail.key`)\n"
    );
    assert_eq!(fs::read_to_string(&ini).unwrap(), INI);
}

#[test]
fn the_config_path_comes_from_vsifax_without_a_flag() {
    let (dir, _) = setup();
    fs::create_dir(dir.path().join("lib")).unwrap();
    fs::write(
        dir.path().join("lib/vsisrv.ini"),
        "[VMAIL]\nmail-server = from-vsifax\n",
    )
    .unwrap();
    let run = vfxadmin_env(
        dir.path(),
        &["config", "VMAIL", "mail-server"],
        "",
        Some(dir.path()),
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, "from-vsifax\n"));
}

#[test]
fn a_missing_file_and_bad_usage_fail_clearly() {
    let (dir, _) = setup();
    let run = vfxadmin(
        dir.path(),
        &["-c", "none.ini", "config", "VMAIL", "mail-server"],
        "",
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vfxadmin: none.ini: cannot read it: No such file or directory (os error 2)\n"
    );
    let run = vfxadmin(
        dir.path(),
        &["-c", "vsisrv.ini", "config", "-a", "VMAIL", "from"],
        "",
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vfxadmin: -a needs a VALUE after [VMAIL] from, or -p to be asked for it\n"
    );
    let run = vfxadmin(
        dir.path(),
        &["-c", "vsisrv.ini", "config", "-e", "VMAIL", "from"],
        "",
    );
    assert_eq!(run.code, 2, "clap's usage error: {}", run.stderr);
}
