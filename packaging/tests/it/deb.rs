//! The Debian package, built once by `packaging/build-deb.sh` (a release
//! build of the binaries, then `dpkg-deb --build`), then checked:
//!
//! - its file list, owners and modes (`dpkg-deb -c`);
//! - its control fields and conffiles (`dpkg-deb -f`, `-I`);
//! - its maintainer scripts: `sh -n`, `dash -n`, `bash -n`, shellcheck when
//!   installed, an unknown argument refused;
//! - as root: installed into this machine with `dpkg -i` (no systemd runs
//!   here: the postinst must cope), the user, modes, key and unit checked,
//!   `vmaild --check-config` run as root and as vmail, one job delivered in
//!   capture mode by `vmaild --once` running as vmail, then `dpkg --purge`
//!   and everything checked gone.
//!
//! The install is serialised machine-wide (a lock in /run/lock), waits for a
//! busy dpkg at most 5 minutes, and first purges a `vmail` package left by an
//! interrupted run; an existing /etc/vmail or /var/spool/vmail is moved aside
//! and put back. It is skipped, with a message, when not root or without
//! dpkg; `VMAIL_PACKAGING_INSTALL=0` skips it on purpose.

use crate::common::{SHORT, built_once, is_root, tempdir};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use vmail_packaging_tests::{
    Entry, RunError, have, owner_mode, parse_contents, repo_root, run_bounded,
};

const SCRIPTS: [&str; 3] = ["postinst", "prerm", "postrm"];

/// The built package, or why there is none (built once per test binary).
fn deb() -> &'static Path {
    static DEB: OnceLock<Result<PathBuf, RunError>> = OnceLock::new();
    built_once(&DEB, "build-deb.sh", "deb")
}

fn debian_tools() -> bool {
    if have("dpkg-deb") && have("dpkg") {
        return true;
    }
    eprintln!("skipped: dpkg-deb and dpkg are needed (a Debian machine)");
    false
}

/// `dpkg-deb OPTION DEB ARGS...`, which must succeed.
fn dpkg_deb(option: &str, args: &[&str]) -> String {
    let ran = run_bounded(
        Command::new("dpkg-deb").arg(option).arg(deb()).args(args),
        &format!("dpkg-deb {option} {}", args.join(" ")),
        SHORT,
    )
    .unwrap();
    assert!(ran.ok(), "dpkg-deb {option} {args:?}: {}", ran.stderr);
    ran.stdout
}

fn contents() -> Vec<Entry> {
    parse_contents(&dpkg_deb("-c", &[])).unwrap()
}

/// The man pages and completions come from vmail-docgen when it exists.
/// build-deb.sh takes them from cargo's target folder (`CARGO_TARGET_DIR`
/// when set), the parent of this test's temp folder.
fn docgen_built() -> bool {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("../release/vmail-docgen")
        .is_file()
}

#[test]
fn the_package_holds_the_binaries_config_unit_docs_and_nothing_of_another_mta() {
    if !debian_tools() {
        return;
    }
    let entries = contents();
    let mode_of = |path: &str| {
        entries
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.mode.clone())
            .unwrap_or_else(|| panic!("{path} is not in the package: {entries:#?}"))
    };
    for bin in [
        "/usr/sbin/vmaild",
        "/usr/sbin/vmail-sendmail",
        "/usr/sbin/vmail-postdrop",
        "/usr/bin/vfx",
        "/usr/bin/vfxadmin",
    ] {
        // vmail-postdrop too: its group (vmail) and setgid bit come from
        // the postinst, since the group does not exist at build time.
        assert_eq!(mode_of(bin), "-rwxr-xr-x", "{bin}");
    }
    assert_eq!(mode_of("/etc/vmail/"), "drwxr-x---");
    assert_eq!(mode_of("/etc/vmail/vsisrv.ini"), "-rw-r-----");
    // The notification templates of .job drops (conffiles) and HylaFAX's hook.
    for template in ["fax-received.j2", "fax-sent.j2", "fax-failed.j2"] {
        assert_eq!(
            mode_of(&format!("/etc/vmail/templates/{template}")),
            "-rw-r--r--"
        );
    }
    assert_eq!(mode_of("/usr/lib/vmail/faxrcvd-vmail"), "-rwxr-xr-x");
    assert_eq!(mode_of("/lib/systemd/system/vmaild.service"), "-rw-r--r--");
    for doc in ["README.md", "README.Debian", "copyright"] {
        assert_eq!(
            mode_of(&format!("/usr/share/doc/vmail/{doc}")),
            "-rw-r--r--"
        );
    }
    assert_eq!(
        mode_of("/usr/share/doc/vmail/examples/ip-allow-list.conf"),
        "-rw-r--r--"
    );
    assert_eq!(mode_of("/usr/share/man/man8/vmaild.8.gz"), "-rw-r--r--");
    if docgen_built() {
        for page in ["vfx.1.gz", "vfxadmin.1.gz", "vmail-sendmail.1.gz"] {
            mode_of(&format!("/usr/share/man/man1/{page}"));
        }
        for cmd in ["vfx", "vfxadmin", "vmail-sendmail"] {
            mode_of(&format!("/usr/share/bash-completion/completions/{cmd}"));
            mode_of(&format!("/usr/share/zsh/vendor-completions/_{cmd}"));
            mode_of(&format!("/usr/share/fish/vendor_completions.d/{cmd}.fish"));
        }
    } else {
        eprintln!("vmail-docgen was not built: man pages of the CLI and completions not checked");
    }
    for entry in &entries {
        assert_eq!(entry.owner, "root/root", "{entry:?}");
        assert!(entry.link.is_none(), "no links expected: {entry:?}");
        let allowed = ["/usr/", "/etc/vmail/", "/lib/systemd/system/"];
        assert!(
            entry.path == "/"
                || allowed.iter().any(|p| entry.path.starts_with(p))
                || ["/etc/", "/lib/", "/lib/systemd/"].contains(&entry.path.as_str()),
            "unexpected path {}",
            entry.path
        );
    }
    let paths: BTreeSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert!(
        !paths.contains("/usr/sbin/sendmail") && !paths.contains("/usr/lib/sendmail"),
        "the package must not take /usr/sbin/sendmail from another MTA"
    );
    // The conffile is the shipped configuration, in capture mode.
    let shipped = fs::read_to_string(repo_root().join("config/vsisrv.ini")).unwrap();
    assert!(shipped.contains("\nmail-server = file:/var/spool/vmail/capture\n"));
}

#[test]
fn control_fields_and_conffiles() {
    if !debian_tools() {
        return;
    }
    let fields = dpkg_deb(
        "-f",
        &[
            "Package",
            "Version",
            "Architecture",
            "Depends",
            "Section",
            "Priority",
            "Maintainer",
            "Installed-Size",
        ],
    );
    let field = |name: &str| -> String {
        fields
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{fields}"))
            .to_string()
    };
    assert_eq!(field("Package"), "vmail");
    let cargo_toml = fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    assert!(
        cargo_toml.contains(&format!("version = \"{}\"", field("Version"))),
        "Version {} is not the workspace's",
        field("Version")
    );
    let arch = run_bounded(
        Command::new("dpkg").arg("--print-architecture"),
        "dpkg --print-architecture",
        SHORT,
    )
    .unwrap();
    assert_eq!(field("Architecture"), arch.stdout.trim());
    let depends = field("Depends");
    assert!(depends.starts_with("libc6 (>= 2."), "{depends}");
    assert!(depends.contains("adduser"), "{depends}");
    assert_eq!(field("Section"), "mail");
    assert_eq!(field("Priority"), "optional");
    assert!(field("Installed-Size").parse::<u64>().unwrap() > 0);
    assert!(field("Maintainer").contains('<'));

    assert_eq!(
        dpkg_deb("-I", &["conffiles"]),
        "/etc/vmail/vsisrv.ini\n/etc/vmail/templates/fax-failed.j2\n\
         /etc/vmail/templates/fax-received.j2\n/etc/vmail/templates/fax-sent.j2\n"
    );
    let dir = tempdir("control");
    let ran = run_bounded(
        Command::new("dpkg-deb").arg("-e").arg(deb()).arg(&dir),
        "dpkg-deb -e",
        SHORT,
    )
    .unwrap();
    assert!(ran.ok(), "{}", ran.stderr);
    for script in SCRIPTS {
        let shipped = fs::read(dir.join(script)).unwrap();
        let source = fs::read(repo_root().join("packaging/debian").join(script)).unwrap();
        assert_eq!(
            shipped, source,
            "{script} in the package is not packaging/debian/{script}"
        );
        assert_eq!(
            owner_mode(&dir.join(script)).unwrap().split(' ').nth(1),
            Some("755")
        );
    }
    let md5sums = fs::read_to_string(dir.join("md5sums")).unwrap();
    assert!(md5sums.contains("  usr/sbin/vmaild\n"), "{md5sums}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn maintainer_scripts_are_sound_posix_sh() {
    let root = repo_root();
    let scripts: Vec<PathBuf> = SCRIPTS
        .iter()
        .map(|s| root.join("packaging/debian").join(s))
        .collect();
    for script in &scripts {
        let text = fs::read_to_string(script).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{}", script.display());
        assert!(
            text.contains("\nset -e\n"),
            "{}: no set -e",
            script.display()
        );
        for shell in ["sh", "dash", "bash"] {
            if !have(shell) {
                continue;
            }
            let ran = run_bounded(Command::new(shell).arg("-n").arg(script), shell, SHORT).unwrap();
            assert!(ran.ok(), "{shell} -n {}: {}", script.display(), ran.stderr);
        }
        // An argument dpkg never passes is refused, before anything is done.
        let ran = run_bounded(
            Command::new("sh").arg(script).arg("no-such-action"),
            "sh script no-such-action",
            SHORT,
        )
        .unwrap();
        assert_eq!(ran.status.code(), Some(1), "{}", script.display());
        assert!(ran.stderr.contains("unknown argument"), "{}", ran.stderr);
    }
    if have("shellcheck") {
        let ran = run_bounded(
            Command::new("shellcheck")
                .arg("-s")
                .arg("sh")
                .args(&scripts),
            "shellcheck",
            SHORT,
        )
        .unwrap();
        assert!(ran.ok(), "shellcheck:\n{}", ran.stdout);
        let ran = run_bounded(
            Command::new("shellcheck").arg(root.join("packaging/build-deb.sh")),
            "shellcheck build-deb.sh",
            SHORT,
        )
        .unwrap();
        assert!(ran.ok(), "shellcheck:\n{}", ran.stdout);
    } else {
        eprintln!("shellcheck is not installed: only sh -n, dash -n and bash -n ran");
    }
    let ran = run_bounded(
        Command::new("bash")
            .arg("-n")
            .arg(root.join("packaging/build-deb.sh")),
        "bash -n",
        SHORT,
    )
    .unwrap();
    assert!(ran.ok(), "{}", ran.stderr);
}

// ---------------------------------------------------------------------------
// Installing into this machine.

/// Runs a dpkg command, waiting (5 minutes at most) while another dpkg or
/// apt holds dpkg's lock.
fn dpkg(args: &[&str]) -> vmail_packaging_tests::Ran {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let ran = run_bounded(
            Command::new("dpkg").args(args),
            &format!("dpkg {}", args.join(" ")),
            Duration::from_secs(300),
        )
        .unwrap();
        let locked = !ran.ok() && ran.stderr.contains("lock");
        if !locked || Instant::now() > deadline {
            return ran;
        }
        thread::sleep(Duration::from_secs(2));
    }
}

fn package_state() -> Option<String> {
    let ran = run_bounded(
        Command::new("dpkg-query").args(["-W", "-f", "${db:Status-Status}", "vmail"]),
        "dpkg-query",
        SHORT,
    )
    .unwrap();
    let state = ran.stdout.trim().to_string();
    (ran.ok() && !state.is_empty() && state != "not-installed").then_some(state)
}

fn getent(db: &str, name: &str) -> Option<String> {
    let ran = run_bounded(Command::new("getent").args([db, name]), "getent", SHORT).unwrap();
    ran.ok().then(|| ran.stdout.trim().to_string())
}

/// A `vmail` user that this package's postinst would have made (system uid,
/// home in the spool, no shell): a leftover of an interrupted run.
fn user_is_ours(passwd: &str) -> bool {
    let fields: Vec<&str> = passwd.split(':').collect();
    fields.len() == 7
        && fields[2]
            .parse::<u32>()
            .is_ok_and(|uid| uid > 0 && uid < 1000)
        && fields[5] == "/var/spool/vmail"
        && fields[6] == "/usr/sbin/nologin"
}

/// Machine-wide: one install test at a time, whichever checkout runs it.
fn machine_lock() -> fs::File {
    let path = Path::new("/run/lock/vmail-packaging-test.lock");
    let file = fs::File::create(path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        match file.try_lock() {
            Ok(()) => return file,
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(500)),
            Err(err) => panic!("{} still locked after 15 minutes: {err:?}", path.display()),
        }
    }
}

fn as_vmail(args: &[&str]) -> vmail_packaging_tests::Ran {
    run_bounded(
        Command::new("runuser")
            .args(["-u", "vmail", "--"])
            .args(args)
            .env_remove("VSIFAX")
            .current_dir("/"),
        &format!("runuser -u vmail -- {}", args.join(" ")),
        SHORT,
    )
    .unwrap()
}

#[test]
fn installs_on_this_machine_and_purges_clean() {
    with_package_installed(check_installed);
}

/// Run as root, vfx would make the spool's folders and the job's files
/// owned by root (0750/0640), which vmaild, running as vmail, can neither
/// read nor log to; the spool gives whatever root makes in it to the owner
/// of its folder.
#[test]
fn a_job_submitted_by_root_with_vfx_is_delivered_by_the_daemon() {
    with_package_installed(|| {
        let ran = run_bounded(
            Command::new("/usr/bin/vfx")
                .args(["-n", "someone@example.com", "-s", "from root"])
                .arg("/usr/share/doc/vmail/copyright")
                .env_remove("VSIFAX"),
            "vfx as root",
            SHORT,
        )
        .unwrap();
        assert!(ran.ok(), "vfx as root: {}{}", ran.stdout, ran.stderr);
        let ran = as_vmail(&["/usr/sbin/vmaild", "--once"]);
        assert!(
            ran.ok(),
            "vmaild --once after vfx as root: {}{}",
            ran.stdout,
            ran.stderr
        );
    });
}

/// `vfxadmin check` runs as root, who reads every file; vmaild runs as the
/// unit's `User=vmail`. A ca-file only root can read is a `[FAIL]` naming
/// the file, its owner and mode and the fix, before a SIGHUP finds out.
#[test]
fn check_as_root_fails_a_ca_file_the_daemon_cannot_read() {
    use std::os::unix::fs::PermissionsExt;
    with_package_installed(|| {
        let ca = Path::new("/etc/vmail/private-ca.pem");
        fs::write(
            ca,
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        fs::set_permissions(ca, fs::Permissions::from_mode(0o600)).unwrap();
        let ini = Path::new("/etc/vmail/check-test.ini");
        fs::write(
            ini,
            "[VMAIL]\nmail-server = 127.0.0.1\nmail-port = 1\ntls = implicit\n\
             ca-file = /etc/vmail/private-ca.pem\nfrom = fax@example.test\ntimeout = 2\n",
        )
        .unwrap();
        let ran = run_bounded(
            Command::new("/usr/bin/vfxadmin")
                .args(["-c", "/etc/vmail/check-test.ini", "check"])
                .env_remove("VSIFAX"),
            "vfxadmin check as root",
            SHORT,
        )
        .unwrap();
        // Not the package's: the purge would leave /etc/vmail behind.
        fs::remove_file(ca).unwrap();
        fs::remove_file(ini).unwrap();
        assert!(!ran.ok(), "{}{}", ran.stdout, ran.stderr);
        assert!(
            ran.stdout.lines().any(|line| line
                == "[FAIL] vmaild runs as vmail (User= of vmaild.service) and cannot read \
                    [VMAIL] ca-file /etc/vmail/private-ca.pem: /etc/vmail/private-ca.pem is \
                    root:root mode 0600; fix it with `chgrp vmail /etc/vmail/private-ca.pem && \
                    chmod g+r /etc/vmail/private-ca.pem`; a SIGHUP would otherwise fail later"),
            "{}{}",
            ran.stdout,
            ran.stderr
        );
        // The configuration and the key file, as the package sets them, are fine.
        assert!(
            !ran.stdout.contains("cannot read the configuration"),
            "{}",
            ran.stdout
        );
        assert!(
            !ran.stdout.contains("cannot read [VMAIL] key-file"),
            "{}",
            ran.stdout
        );
    });
}

/// What a first run as root (`bash scripts/run-default.sh`) leaves before
/// the package: the spool's folders and files root's, 0750/0640. The
/// postinst gives them to vmail and says so, vmaild as vmail then runs on
/// it; `dpkg -r` with a job queued says how many and where they stay.
#[test]
fn a_root_owned_spool_is_given_to_vmail_and_removal_names_the_queued_jobs() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let spool = Path::new("/var/spool/vmail");
    with_package_installed_over(
        || {
            for dir in [
                "",
                "in",
                "queue",
                "tmp",
                "logs",
                "sent",
                "failed",
                "quarantine",
            ] {
                fs::DirBuilder::new()
                    .mode(0o750)
                    .recursive(true)
                    .create(spool.join(dir))
                    .unwrap();
            }
            fs::write(spool.join("logs/vmail"), "left by a run as root\n").unwrap();
            fs::write(spool.join("vmaild.pid"), "1\n").unwrap();
        },
        |installed| {
            let said = format!("{}{}", installed.stdout, installed.stderr);
            assert!(
                said.contains(
                    "vmail: 10 file(s) and folder(s) under /var/spool/vmail belonged to root"
                ),
                "dpkg -i said:\n{said}"
            );
            let vmail_uid: u32 = getent("passwd", "vmail")
                .and_then(|line| line.split(':').nth(2).and_then(|uid| uid.parse().ok()))
                .unwrap();
            for path in ["", "in", "queue", "logs", "logs/vmail", "vmaild.pid"] {
                let meta = fs::symlink_metadata(spool.join(path)).unwrap();
                assert_eq!(
                    meta.uid(),
                    vmail_uid,
                    "/var/spool/vmail/{path} is not vmail's"
                );
            }
            let ran = as_vmail(&["/usr/sbin/vmaild", "--once"]);
            assert!(
                ran.ok(),
                "vmaild --once as vmail: {}{}",
                ran.stdout,
                ran.stderr
            );

            // A job queued (no daemon runs here: systemd is not PID 1), then removal.
            let ran = run_bounded(
                Command::new("/usr/bin/vfx")
                    .args(["-n", "someone@example.com", "-s", "left queued"])
                    .arg("/usr/share/doc/vmail/copyright")
                    .env_remove("VSIFAX"),
                "vfx as root",
                SHORT,
            )
            .unwrap();
            assert!(ran.ok(), "vfx as root: {}{}", ran.stdout, ran.stderr);
            let ran = dpkg(&["--remove", "vmail"]);
            assert!(ran.ok(), "dpkg --remove: {}{}", ran.stdout, ran.stderr);
            let said = format!("{}{}", ran.stdout, ran.stderr);
            assert!(
                said.contains(
                    "vmail: 1 job(s) still queued in /var/spool/vmail/queue and 0 file(s) \
                     not yet picked up in /var/spool/vmail/in and /var/spool/vmail/maildrop"
                ) && said.contains("reinstall vmail to send them"),
                "dpkg --remove said:\n{said}"
            );
        },
    );
}

/// Installs the package into this machine, runs `check`, purges the package
/// (whether `check` passed or not) and checks that nothing is left.
fn with_package_installed(check: impl FnOnce() + std::panic::UnwindSafe) {
    with_package_installed_over(|| {}, |_| check());
}

/// As [`with_package_installed`], with `prepare` run as root before
/// `dpkg -i` (on a machine where /etc/vmail and /var/spool/vmail were moved
/// aside), and `check` given what `dpkg -i` printed.
fn with_package_installed_over(
    prepare: impl FnOnce(),
    check: impl FnOnce(&vmail_packaging_tests::Ran),
) {
    if !debian_tools() {
        return;
    }
    if std::env::var("VMAIL_PACKAGING_INSTALL").as_deref() == Ok("0") {
        eprintln!("skipped: VMAIL_PACKAGING_INSTALL=0");
        return;
    }
    if !is_root() {
        eprintln!("skipped: dpkg -i needs root (the package is still built and checked)");
        return;
    }
    let deb = deb().to_path_buf();
    let _lock = machine_lock();
    if let Some(state) = package_state() {
        eprintln!("purging a vmail package left by an earlier run ({state})");
        let ran = dpkg(&["--purge", "vmail"]);
        assert!(ran.ok(), "dpkg --purge of the leftover: {}", ran.stderr);
    }
    if let Some(passwd) = getent("passwd", "vmail") {
        assert!(
            user_is_ours(&passwd),
            "a vmail user exists that this package did not make ({passwd}); \
             the purge would delete it. Remove it, or set VMAIL_PACKAGING_INSTALL=0"
        );
    }
    // A spool or configuration made by hand (scripts/run-default.sh makes
    // /var/spool/vmail) would be taken over, then deleted by the purge: it is
    // moved aside and put back at the end, whatever happens.
    let _aside = ["/etc/vmail", "/var/spool/vmail"].map(MovedAside::new);

    let installed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prepare();
        let ran = dpkg(&["-i", deb.to_str().unwrap()]);
        assert!(ran.ok(), "dpkg -i failed:\n{}\n{}", ran.stdout, ran.stderr);
        check(&ran);
    }));
    let ran = dpkg(&["--purge", "vmail"]);
    if let Err(panic) = installed {
        std::panic::resume_unwind(panic);
    }
    assert!(
        ran.ok(),
        "dpkg --purge failed:\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
    check_purged();
}

/// A path renamed to `<path>.before-vmail-test` while the test runs, and
/// renamed back when dropped.
struct MovedAside {
    path: PathBuf,
    aside: Option<PathBuf>,
}

impl MovedAside {
    fn new(path: &str) -> MovedAside {
        let path = PathBuf::from(path);
        let aside = fs::symlink_metadata(&path).is_ok().then(|| {
            let aside = PathBuf::from(format!("{}.before-vmail-test", path.display()));
            assert!(
                fs::symlink_metadata(&aside).is_err(),
                "{} exists: an earlier run could not put it back; look at it and remove it",
                aside.display()
            );
            fs::rename(&path, &aside).unwrap();
            eprintln!("moved {} aside for the test", path.display());
            aside
        });
        MovedAside { path, aside }
    }
}

impl Drop for MovedAside {
    fn drop(&mut self) {
        if let Some(aside) = &self.aside {
            let _ = fs::remove_dir_all(&self.path);
            if let Err(err) = fs::rename(aside, &self.path) {
                eprintln!("cannot put {} back: {err}", self.path.display());
            }
        }
    }
}

fn check_installed() {
    assert_eq!(package_state().as_deref(), Some("installed"));
    let passwd = getent("passwd", "vmail").expect("postinst made no vmail user");
    assert!(user_is_ours(&passwd), "vmail user: {passwd}");
    let group = getent("group", "vmail").expect("postinst made no vmail group");
    let gid = group.split(':').nth(2).unwrap();
    assert_eq!(
        passwd.split(':').nth(3),
        Some(gid),
        "vmail's group is not vmail"
    );

    let expect = [
        ("/var/spool/vmail", "vmail:vmail 750"),
        ("/var/spool/vmail/maildrop", "vmail:vmail 1730"),
        ("/usr/sbin/vmail-postdrop", "root:vmail 2755"),
        ("/etc/vmail", "root:vmail 750"),
        ("/etc/vmail/vsisrv.ini", "root:vmail 640"),
        ("/etc/vmail/vmail.key", "vmail:vmail 600"),
        ("/usr/sbin/vmaild", "root:root 755"),
        ("/usr/sbin/vmail-sendmail", "root:root 755"),
        ("/usr/bin/vfx", "root:root 755"),
        ("/usr/bin/vfxadmin", "root:root 755"),
        ("/lib/systemd/system/vmaild.service", "root:root 644"),
        ("/usr/share/doc/vmail/README.md", "root:root 644"),
    ];
    for (path, want) in expect {
        assert_eq!(owner_mode(Path::new(path)).unwrap(), want, "{path}");
    }
    let key = fs::read_to_string("/etc/vmail/vmail.key").unwrap();
    assert!(
        key.len() == 65 && key.ends_with('\n') && key[..64].bytes().all(|b| b.is_ascii_hexdigit()),
        "the key file is not 64 hex digits and a newline"
    );
    assert_eq!(
        fs::read("/etc/vmail/vsisrv.ini").unwrap(),
        fs::read(repo_root().join("config/vsisrv.ini")).unwrap()
    );
    // Enabled without a running systemd: deb-systemd-helper's symlink.
    let wants = Path::new("/etc/systemd/system/multi-user.target.wants/vmaild.service");
    assert!(
        fs::symlink_metadata(wants).is_ok(),
        "vmaild.service is not enabled"
    );
    let verify = dpkg(&["--verify", "vmail"]);
    assert!(
        verify.ok() && verify.stdout.is_empty(),
        "dpkg --verify: {}{}",
        verify.stdout,
        verify.stderr
    );

    // The configuration checks at its default path, as root and as the
    // daemon's user (who must be able to read /etc/vmail).
    let ran = run_bounded(
        Command::new("/usr/sbin/vmaild")
            .arg("--check-config")
            .env_remove("VSIFAX"),
        "vmaild --check-config",
        SHORT,
    )
    .unwrap();
    assert!(
        ran.ok(),
        "vmaild --check-config as root: {}{}",
        ran.stdout,
        ran.stderr
    );
    assert!(
        ran.stdout
            .contains("/etc/vmail/vsisrv.ini: configuration OK"),
        "{}",
        ran.stdout
    );
    let ran = as_vmail(&[
        "/usr/sbin/vmaild",
        "--check-config",
        "--config",
        "/etc/vmail/vsisrv.ini",
    ]);
    assert!(
        ran.ok(),
        "vmaild --check-config as vmail: {}{}",
        ran.stdout,
        ran.stderr
    );

    deliver_one_job_in_capture_mode();
}

/// The installed daemon, as vmail, on the installed configuration: a job
/// dropped into in/ comes out in the capture folder.
fn deliver_one_job_in_capture_mode() {
    let ran = as_vmail(&["/usr/sbin/vmaild", "--once"]);
    assert!(
        ran.ok(),
        "vmaild --once on an empty spool: {}{}",
        ran.stdout,
        ran.stderr
    );
    let drop = "To: someone@example.com\nFrom: fax@example.com\nSubject: packaged\n\nhello from the package test\n";
    let ran = as_vmail(&[
        "sh",
        "-c",
        &format!(
            "printf '%s' '{drop}' > /var/spool/vmail/in/.t && mv /var/spool/vmail/in/.t /var/spool/vmail/in/t.eml"
        ),
    ]);
    assert!(ran.ok(), "dropping a job as vmail: {}", ran.stderr);
    let ran = as_vmail(&["/usr/sbin/vmaild", "--once"]);
    assert!(
        ran.ok(),
        "vmaild --once with one job: {}{}",
        ran.stdout,
        ran.stderr
    );
    let captured: Vec<PathBuf> = fs::read_dir("/var/spool/vmail/capture")
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        captured
            .iter()
            .any(|p| fs::read_to_string(p).is_ok_and(|t| t.contains("hello from the package test"))),
        "the job was not captured in /var/spool/vmail/capture: {captured:?}"
    );
}

fn check_purged() {
    assert_eq!(package_state(), None, "vmail is still known to dpkg");
    assert_eq!(getent("passwd", "vmail"), None, "the vmail user is left");
    assert_eq!(getent("group", "vmail"), None, "the vmail group is left");
    for path in [
        "/var/spool/vmail",
        "/etc/vmail",
        "/usr/sbin/vmaild",
        "/usr/bin/vfx",
        "/lib/systemd/system/vmaild.service",
        "/etc/systemd/system/multi-user.target.wants/vmaild.service",
        "/usr/share/doc/vmail",
    ] {
        assert!(
            fs::symlink_metadata(path).is_err(),
            "{path} is left after the purge"
        );
    }
}
