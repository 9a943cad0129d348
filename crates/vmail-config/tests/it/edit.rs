//! Writing one key back to a real file: everything else stays byte for
//! byte, the mode stays, and nothing is left beside it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use tempfile::TempDir;
use vmail_config::{IniDocument, load};

const ORIGINAL: &str = "\
; vsisrv.ini of the fax server
; keep this comment

[VMAIL]
; where mail goes
Mail-Server   =   old.example.com
mail-port = 25

# credentials below
AUTH-TYPE = login
auth-rsp = fax:old

[VFXSCHED]
spool = C:\\vsifax\\spool
";

#[test]
fn a_round_trip_changes_only_the_values_and_keeps_mode_and_comments() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("vsisrv.ini");
    fs::write(&path, ORIGINAL).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();

    let mut doc = IniDocument::read(&path).unwrap();
    doc.set("vmail", "mail-server", "new.example.com").unwrap();
    doc.set("VMAIL", "auth-rsp", "enc:v1:AAAA").unwrap();
    doc.set("VMAIL", "timeout", "30s").unwrap();
    doc.set("vfxsched", "keep-sent", "1d").unwrap();
    doc.write().unwrap();

    let expected = ORIGINAL
        .replace("old.example.com", "new.example.com")
        .replace(
            "auth-rsp = fax:old",
            "auth-rsp = enc:v1:AAAA\ntimeout = 30s",
        )
        .replace("C:\\vsifax\\spool\n", "C:\\vsifax\\spool\nkeep-sent = 1d\n");
    assert_eq!(fs::read_to_string(&path).unwrap(), expected);
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["vsisrv.ini"], "no temporary file is left");

    let again = IniDocument::read(&path).unwrap();
    assert_eq!(again.get("VMAIL", "MAIL-SERVER"), Some("new.example.com"));
    assert_eq!(again.get("VFXSCHED", "spool"), Some("C:\\vsifax\\spool"));
    assert_eq!(again.get("VMAIL", "pop-server"), None);
}

#[test]
fn an_edited_file_still_loads() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("vsisrv.ini");
    fs::write(&path, ORIGINAL).unwrap();
    let mut doc = IniDocument::read(&path).unwrap();
    doc.set("VMAIL", "auth-rsp", "fax|pa:ss:wd").unwrap();
    doc.set("VMAIL", "auth-delim", "|").unwrap();
    doc.write().unwrap();
    let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let smtp = loaded.config.smtp().unwrap();
    assert_eq!(smtp.auth_responses[1].expose(), "pa:ss:wd");
}

#[test]
fn a_symlinked_ini_keeps_its_link() {
    let dir = TempDir::new().unwrap();
    let real = dir.path().join("real.ini");
    let link = dir.path().join("vsisrv.ini");
    fs::write(&real, ORIGINAL).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut doc = IniDocument::read(&link).unwrap();
    doc.set("VMAIL", "mail-port", "587").unwrap();
    doc.write().unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::read_to_string(&real)
            .unwrap()
            .contains("mail-port = 587\n")
    );
}

#[test]
fn reading_a_missing_file_names_it() {
    let dir = TempDir::new().unwrap();
    let err = IniDocument::read(&dir.path().join("nope.ini")).unwrap_err();
    let shown = err
        .to_string()
        .replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(
        shown,
        "DIR/nope.ini: cannot read it: No such file or directory (os error 2)"
    );
}
