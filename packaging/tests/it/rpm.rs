//! The RPM, built once by `packaging/build-rpm.sh` (a release build, then
//! `rpmbuild -bb` of the tree laid out as the .deb's), then checked:
//!
//! - `rpm -qip`: name, version (the workspace's), architecture, license,
//!   summary; `--requires`: glibc's symbol versions (rpmbuild's own
//!   dependency finder) and shadow-utils for the %pre;
//! - `rpm -qlvp`: the file list, owners and modes, and that it is the
//!   .deb's list (build-deb.sh --no-build from the same binaries) but for
//!   the paths where Red Hat differs; `--configfiles` and the noreplace flag;
//! - `rpm -qp --scripts`: each scriptlet is packaging/rpm/*.sh as written,
//!   sound POSIX sh (`sh -n`, `dash -n`, `bash -n`, shellcheck when there),
//!   and does what the .deb's maintainer scripts do (read in the text);
//! - as root: `rpm --root` installs it into an overlay of this machine
//!   (the scriptlets run chrooted there, nothing of the host changes): the
//!   user, modes, key, `rpm -V`; then a queued job and `rpm -e`, which
//!   names the job and keeps the spool, the key and the user.

use crate::common::{SHORT, build_package, built_once, is_root};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use vmail_packaging_tests::{RunError, have, repo_root, run_bounded};

const SCRIPTLETS: [(&str, &str); 4] = [
    ("preinstall", "pre.sh"),
    ("postinstall", "post.sh"),
    ("preuninstall", "preun.sh"),
    ("postuninstall", "postun.sh"),
];

/// rpmbuild, from Debian's rpm package when missing (as root).
fn rpm_tools() -> bool {
    if !have("rpmbuild") && is_root() {
        let ran = run_bounded(
            Command::new("bash")
                .arg(repo_root().join("packaging/install-tools.sh"))
                .arg("rpm"),
            "install-tools.sh rpm",
            Duration::from_secs(600),
        )
        .unwrap();
        assert!(ran.ok(), "install-tools.sh rpm: {}", ran.stderr);
    }
    if have("rpmbuild") && have("rpm") {
        return true;
    }
    eprintln!("skipped: no rpmbuild (`bash packaging/install-tools.sh rpm` as root)");
    false
}

/// The built package (once per test binary).
fn package() -> &'static Path {
    static RPM: OnceLock<Result<PathBuf, RunError>> = OnceLock::new();
    built_once(&RPM, "build-rpm.sh", "rpm")
}

/// `rpm -qp ARGS PACKAGE`, which must succeed.
fn query(args: &[&str]) -> String {
    let ran = run_bounded(
        Command::new("rpm").arg("-qp").args(args).arg(package()),
        &format!("rpm -qp {}", args.join(" ")),
        SHORT,
    )
    .unwrap();
    assert!(ran.ok(), "rpm -qp {args:?}: {}", ran.stderr);
    ran.stdout
}

#[test]
fn rpm_metadata_names_the_package_version_and_dependencies() {
    if !rpm_tools() {
        return;
    }
    let info = query(&["-i"]);
    let field = |name: &str| -> String {
        info.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in rpm -qip:\n{info}"))
    };
    assert_eq!(field("Name"), "vmail");
    let cargo_toml = fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    assert!(
        cargo_toml.contains(&format!("version = \"{}\"", field("Version"))),
        "Version {} is not the workspace's",
        field("Version")
    );
    assert_eq!(field("Release"), "1");
    let arch = run_bounded(
        Command::new("rpm").args(["--eval", "%{_arch}"]),
        "rpm --eval",
        SHORT,
    )
    .unwrap();
    assert_eq!(field("Architecture"), arch.stdout.trim());
    assert_eq!(field("License"), "MIT OR Apache-2.0");
    assert!(field("Summary").contains("SMTP"), "{info}");
    assert!(info.contains("VSI-FAX"), "{info}");

    let requires = query(&["--requires"]);
    assert!(requires.lines().any(|l| l == "shadow-utils"), "{requires}");
    assert!(
        requires
            .lines()
            .any(|l| l.starts_with("libc.so.6(GLIBC_2.") && l.ends_with("(64bit)")),
        "no glibc symbol version required:\n{requires}"
    );
    // The notification templates of .job drops are %config(noreplace) too.
    assert_eq!(
        query(&["--configfiles"]),
        "/etc/vmail/templates/fax-failed.j2\n/etc/vmail/templates/fax-received.j2\n\
         /etc/vmail/templates/fax-sent.j2\n/etc/vmail/vsisrv.ini\n"
    );
    // c: %config, n: noreplace (a changed file is kept, the new one is .rpmnew).
    let flags = query(&["--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\\n]"]);
    assert!(
        flags.lines().any(|l| l == "cn /etc/vmail/vsisrv.ini"),
        "{flags}"
    );
    assert!(
        flags
            .lines()
            .any(|l| l == "cn /etc/vmail/templates/fax-received.j2"),
        "{flags}"
    );
}

/// `rpm -qlvp`: path -> "mode owner group".
fn listing() -> Vec<(String, String)> {
    query(&["-lv"])
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert!(f.len() >= 9, "not an rpm -qlvp line: {line}");
            (f[8..].join(" "), format!("{} {}:{}", f[0], f[2], f[3]))
        })
        .collect()
}

#[test]
fn rpm_file_list_owners_and_modes() {
    if !rpm_tools() {
        return;
    }
    let entries = listing();
    let of = |path: &str| {
        entries
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("{path} is not in the RPM: {entries:#?}"))
    };
    for bin in [
        "/usr/sbin/vmaild",
        "/usr/sbin/vmail-sendmail",
        "/usr/bin/vfx",
        "/usr/bin/vfxadmin",
    ] {
        assert_eq!(of(bin), "-rwxr-xr-x root:root", "{bin}");
    }
    // What the .deb's postinst sets, rpm sets from the %attr of the spec.
    assert_eq!(of("/usr/sbin/vmail-postdrop"), "-rwxr-sr-x root:vmail");
    assert_eq!(of("/etc/vmail"), "drwxr-x--- root:vmail");
    assert_eq!(of("/etc/vmail/vsisrv.ini"), "-rw-r----- root:vmail");
    assert_eq!(of("/var/spool/vmail"), "drwxr-x--- vmail:vmail");
    assert_eq!(of("/var/spool/vmail/maildrop"), "drwx-wx--T vmail:vmail");
    assert_eq!(
        of("/usr/lib/systemd/system/vmaild.service"),
        "-rw-r--r-- root:root"
    );
    assert_eq!(
        of("/usr/share/man/man8/vmaild.8.gz"),
        "-rw-r--r-- root:root"
    );
    for (path, mode) in &entries {
        let owned_dir = [
            "/etc/vmail",
            "/var/spool/vmail",
            "/usr/share/doc/vmail",
            "/usr/lib/vmail",
        ]
        .iter()
        .any(|d| path.starts_with(d));
        assert!(
            !mode.starts_with('d') || owned_dir,
            "the RPM owns a folder that is not vmail's: {path}"
        );
    }
    let paths: BTreeSet<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        !paths.contains("/usr/sbin/sendmail") && !paths.contains("/usr/lib/sendmail"),
        "the RPM must not take /usr/sbin/sendmail from another MTA"
    );
    // The unit and the shipped configuration are the repository's files.
    let dir = extract();
    assert_eq!(
        fs::read(dir.join("usr/lib/systemd/system/vmaild.service")).unwrap(),
        fs::read(repo_root().join("systemd/vmaild.service")).unwrap()
    );
    assert_eq!(
        fs::read(dir.join("etc/vmail/vsisrv.ini")).unwrap(),
        fs::read(repo_root().join("config/vsisrv.ini")).unwrap()
    );
    let _ = fs::remove_dir_all(&dir);
}

/// The RPM's payload, unpacked with rpm2cpio and cpio.
fn extract() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rpm-x-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let ran = run_bounded(
        Command::new("sh")
            .arg("-c")
            .arg("rpm2cpio \"$1\" | cpio -idm --quiet")
            .arg("sh")
            .arg(package())
            .current_dir(&dir),
        "rpm2cpio | cpio",
        SHORT,
    )
    .unwrap();
    assert!(ran.ok(), "rpm2cpio: {}", ran.stderr);
    dir
}

/// The .deb's paths, as the RPM has them (Red Hat's unit and zsh folders,
/// README.RPM for README.Debian), and the folders dpkg lists.
fn deb_path_in_rpm(path: &str) -> String {
    path.replacen("/lib/systemd/system/", "/usr/lib/systemd/system/", 1)
        .replacen(
            "/usr/share/zsh/vendor-completions/",
            "/usr/share/zsh/site-functions/",
            1,
        )
        .replacen("/README.Debian", "/README.RPM", 1)
}

#[test]
fn rpm_holds_the_files_of_the_deb() {
    if !rpm_tools() || !have("dpkg-deb") {
        return;
    }
    let rpm_files: BTreeSet<String> = listing()
        .into_iter()
        .filter(|(_, mode)| !mode.starts_with('d'))
        .map(|(path, _)| path)
        .collect();
    // Built after the RPM: the release binaries are there, nothing is compiled.
    package();
    let deb = build_package(
        "build-deb.sh",
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("rpm-vs-deb"),
        &["--no-build"],
    )
    .unwrap();
    let ran = run_bounded(
        Command::new("dpkg-deb").arg("-c").arg(&deb),
        "dpkg-deb -c",
        SHORT,
    )
    .unwrap();
    let deb_files: BTreeSet<String> = vmail_packaging_tests::parse_contents(&ran.stdout)
        .unwrap()
        .into_iter()
        .filter(|e| !e.mode.starts_with('d'))
        .map(|e| deb_path_in_rpm(&e.path))
        .collect();
    assert_eq!(
        rpm_files, deb_files,
        "the RPM's files (left) are not the .deb's (right)"
    );
}

#[test]
fn rpm_scriptlets_are_the_reviewed_files_and_do_what_the_debs_do() {
    if !rpm_tools() {
        return;
    }
    let scripts = query(&["--scripts"]);
    let dir = repo_root().join("packaging/rpm");
    for (name, file) in SCRIPTLETS {
        let heading = format!("{name} scriptlet (using /bin/sh):\n");
        let start = scripts
            .find(&heading)
            .unwrap_or_else(|| panic!("no {name} scriptlet in:\n{scripts}"))
            + heading.len();
        let body = &scripts[start..];
        let end = SCRIPTLETS
            .iter()
            .filter_map(|(other, _)| body.find(&format!("{other} scriptlet (using")))
            .min()
            .unwrap_or(body.len());
        let source = fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(
            body[..end].trim_end(),
            source.trim_end(),
            "the {name} scriptlet is not packaging/rpm/{file}"
        );
    }

    let read = |file: &str| fs::read_to_string(dir.join(file)).unwrap();
    // %pre: the .deb's user: system, group vmail, home the spool, no shell.
    let pre = read("pre.sh");
    for word in [
        "groupadd --system vmail",
        "useradd --system --gid vmail --home-dir /var/spool/vmail --no-create-home",
        "--shell /usr/sbin/nologin",
    ] {
        assert!(pre.contains(word), "pre.sh lacks {word:?}");
    }
    let postinst = fs::read_to_string(repo_root().join("packaging/debian/postinst")).unwrap();
    assert!(postinst.contains("--home \"$SPOOL\"") && postinst.contains("/usr/sbin/nologin"));
    // %post: the key as the postinst makes it, the root-owned spool given
    // to vmail the same way, the unit preset on the first install only.
    let post = read("post.sh");
    for word in [
        "od -An -vtx1 -N32 /dev/urandom",
        "chmod 0600 \"$tmp\"",
        "chown vmail:vmail \"$tmp\"",
        "-user root -exec chown -h vmail {} +",
        "-group root -exec chgrp -h vmail {} +",
        "[ \"$1\" -eq 1 ]",
        "systemctl --no-reload preset vmaild.service",
    ] {
        assert!(post.contains(word), "post.sh lacks {word:?}");
        assert!(
            word.contains("systemctl") || word.contains("$1") || postinst.contains(word),
            "the .deb's postinst no longer does {word:?}: keep the two alike"
        );
    }
    // %preun: on removal only ($1 = 0), stop and report what stays queued.
    let preun = read("preun.sh");
    let prerm = fs::read_to_string(repo_root().join("packaging/debian/prerm")).unwrap();
    assert!(preun.contains("if [ \"$1\" -eq 0 ]; then"));
    assert!(preun.contains("disable --now vmaild.service"));
    for word in ["job(s) still queued in $SPOOL/queue", "! -name '*.state'"] {
        assert!(preun.contains(word) && prerm.contains(word), "{word:?}");
    }
    // %postun: an upgrade restarts a running vmaild; nothing is deleted.
    let postun = read("postun.sh");
    assert!(postun.contains("try-restart vmaild.service"));
    assert!(!postun.contains("rm ") && !postun.contains("userdel"));

    for (_, file) in SCRIPTLETS {
        let path = dir.join(file);
        for shell in ["sh", "dash", "bash"] {
            if !have(shell) {
                continue;
            }
            let ran = run_bounded(Command::new(shell).arg("-n").arg(&path), shell, SHORT).unwrap();
            assert!(ran.ok(), "{shell} -n {file}: {}", ran.stderr);
        }
        if have("shellcheck") {
            let ran = run_bounded(
                Command::new("shellcheck").args(["-s", "sh"]).arg(&path),
                "shellcheck",
                SHORT,
            )
            .unwrap();
            assert!(ran.ok(), "shellcheck {file}:\n{}", ran.stdout);
        }
    }
}

// ---------------------------------------------------------------------------
// Installed with rpm into an overlay of this machine.

/// An overlay of `/` mounted at `root` (with /dev and /proc bound in for
/// the scriptlets), unmounted and removed when dropped.
struct Overlay {
    dir: PathBuf,
    root: PathBuf,
}

impl Overlay {
    fn mount() -> Option<Overlay> {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rpm-root-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let root = dir.join("merged");
        for sub in ["upper", "work", "merged"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let options = format!(
            "lowerdir=/,upperdir={},workdir={}",
            dir.join("upper").display(),
            dir.join("work").display()
        );
        let ran = run_bounded(
            Command::new("mount")
                .args(["-t", "overlay", "overlay", "-o", &options])
                .arg(&root),
            "mount -t overlay",
            SHORT,
        )
        .unwrap();
        if !ran.ok() {
            eprintln!("skipped: cannot mount an overlay of /: {}", ran.stderr);
            let _ = fs::remove_dir_all(&dir);
            return None;
        }
        let overlay = Overlay { dir, root };
        for bind in ["dev", "proc"] {
            let ran = run_bounded(
                Command::new("mount")
                    .arg("--bind")
                    .arg(format!("/{bind}"))
                    .arg(overlay.root.join(bind)),
                "mount --bind",
                SHORT,
            )
            .unwrap();
            assert!(ran.ok(), "mount --bind /{bind}: {}", ran.stderr);
        }
        Some(overlay)
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// `chroot ROOT ARGS`.
    fn run(&self, args: &[&str]) -> vmail_packaging_tests::Ran {
        run_bounded(
            Command::new("chroot").arg(&self.root).args(args),
            &format!("chroot {}", args.join(" ")),
            SHORT,
        )
        .unwrap()
    }

    fn rpm(&self, args: &[&str]) -> vmail_packaging_tests::Ran {
        run_bounded(
            Command::new("rpm").arg("--root").arg(&self.root).args(args),
            &format!("rpm {}", args.join(" ")),
            Duration::from_secs(300),
        )
        .unwrap()
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        for sub in ["proc", "dev", ""] {
            let _ = Command::new("umount").arg(self.root.join(sub)).status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn rpm_installs_with_its_scriptlets_and_removal_keeps_the_queue() {
    if !rpm_tools() {
        return;
    }
    if !is_root() {
        eprintln!("skipped: installing into an overlay needs root");
        return;
    }
    let rpm = package().to_path_buf();
    let Some(os) = Overlay::mount() else {
        return;
    };
    // A machine without vmail yet (the host's own, if any, is hidden).
    for gone in ["etc/vmail", "var/spool/vmail"] {
        let _ = fs::remove_dir_all(os.path(gone));
    }
    if os.run(&["getent", "passwd", "vmail"]).ok() {
        assert!(os.run(&["userdel", "vmail"]).ok());
        let _ = os.run(&["groupdel", "vmail"]);
    }
    // --nodeps: the overlay is Debian, whose libc rpm's database does not
    // know. The package's path is the host's: rpm reads it before chroot.
    let ran = os.rpm(&["-i", "--nodeps", rpm.to_str().unwrap()]);
    assert!(ran.ok(), "rpm -i: {}{}", ran.stdout, ran.stderr);

    let passwd = os.run(&["getent", "passwd", "vmail"]);
    assert!(passwd.ok(), "%pre made no vmail user");
    let fields: Vec<&str> = passwd.stdout.trim().split(':').collect();
    assert_eq!(fields[5], "/var/spool/vmail");
    assert_eq!(fields[6], "/usr/sbin/nologin");
    assert!(
        fields[2].parse::<u32>().unwrap() < 1000,
        "not a system user"
    );
    let stat = |path: &str| {
        let ran = os.run(&["stat", "-c", "%U:%G %a", path]);
        assert!(ran.ok(), "stat {path}: {}", ran.stderr);
        ran.stdout.trim().to_string()
    };
    for (path, want) in [
        ("/var/spool/vmail", "vmail:vmail 750"),
        ("/var/spool/vmail/maildrop", "vmail:vmail 1730"),
        ("/usr/sbin/vmail-postdrop", "root:vmail 2755"),
        ("/etc/vmail", "root:vmail 750"),
        ("/etc/vmail/vsisrv.ini", "root:vmail 640"),
        ("/etc/vmail/vmail.key", "vmail:vmail 600"),
        ("/usr/sbin/vmaild", "root:root 755"),
        ("/usr/lib/systemd/system/vmaild.service", "root:root 644"),
    ] {
        assert_eq!(stat(path), want, "{path}");
    }
    let key = fs::read_to_string(os.path("/etc/vmail/vmail.key")).unwrap();
    assert!(
        key.len() == 65 && key[..64].bytes().all(|b| b.is_ascii_hexdigit()),
        "the key is not 64 hex digits and a newline"
    );
    let verify = os.rpm(&["-V", "--nodeps", "vmail"]);
    assert!(
        verify.ok() && verify.stdout.trim().is_empty(),
        "rpm -V: {}{}",
        verify.stdout,
        verify.stderr
    );
    // The installed daemon checks the installed configuration as vmail.
    let ran = os.run(&[
        "runuser",
        "-u",
        "vmail",
        "--",
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

    // A job queued by root, then removal: named, and kept with the key and user.
    let ran = os.run(&[
        "/usr/bin/vfx",
        "-n",
        "someone@example.com",
        "-s",
        "left queued",
        "/usr/share/doc/vmail/copyright",
    ]);
    assert!(ran.ok(), "vfx: {}{}", ran.stdout, ran.stderr);
    let ran = os.rpm(&["-e", "--nodeps", "vmail"]);
    assert!(ran.ok(), "rpm -e: {}{}", ran.stdout, ran.stderr);
    let said = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        said.contains("vmail: 1 job(s) still queued in /var/spool/vmail/queue"),
        "rpm -e said:\n{said}"
    );
    assert!(!os.path("/usr/sbin/vmaild").exists());
    assert!(!os.path("/usr/lib/systemd/system/vmaild.service").exists());
    assert!(os.path("/etc/vmail/vmail.key").is_file());
    assert!(os.run(&["getent", "passwd", "vmail"]).ok());
    let queued = fs::read_dir(os.path("/var/spool/vmail/queue"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".state"))
        .count();
    assert_eq!(queued, 1, "the queued job is gone after rpm -e");
}
