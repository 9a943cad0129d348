//! build-deb.sh and build-rpm.sh take the binaries from cargo's target
//! folder and put the package there: `CARGO_TARGET_DIR` when it is set,
//! absolute or relative to the current folder, as cargo itself does (they
//! once looked in ./target whatever it said, and so failed, or packed stale
//! binaries). Checked with `--no-build` on a target folder made here whose
//! "binaries" are copies of /bin/true: no compilation, a few seconds.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vmail_packaging_tests::{have, repo_root, run_bounded};

const LIMIT: Duration = Duration::from_secs(120);

/// A fresh folder with `target/release/` holding the five binaries.
fn fake_target(what: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("target-dir-{what}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let release = dir.join("elsewhere/release");
    fs::create_dir_all(&release).unwrap();
    for bin in [
        "vmaild",
        "vfx",
        "vfxadmin",
        "vmail-sendmail",
        "vmail-postdrop",
    ] {
        fs::copy("/bin/true", release.join(bin)).unwrap();
    }
    dir
}

/// Runs `script --no-build` in `cwd` with `CARGO_TARGET_DIR=target_dir`.
fn build(script: &str, cwd: &Path, target_dir: &str) -> vmail_packaging_tests::Ran {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    run_bounded(
        Command::new("bash")
            .arg(repo_root().join("packaging").join(script))
            .arg("--no-build")
            .current_dir(cwd)
            .env("CARGO", cargo)
            .env("CARGO_TARGET_DIR", target_dir),
        script,
        LIMIT,
    )
    .unwrap()
}

fn check(script: &str, tool: &str, out: &str, name_start: &str) {
    if !have(tool) {
        eprintln!("skipped: no {tool}");
        return;
    }
    for relative in [false, true] {
        let dir = fake_target(&format!("{script}-{relative}"));
        let target = dir.join("elsewhere");
        let given = if relative {
            "elsewhere".to_string()
        } else {
            target.display().to_string()
        };
        let ran = build(script, &dir, &given);
        assert!(
            ran.ok(),
            "{script} with CARGO_TARGET_DIR={given}: {}",
            ran.stderr
        );
        let package = PathBuf::from(ran.stdout.trim());
        assert_eq!(
            package.parent(),
            Some(target.join(out).as_path()),
            "{script} with CARGO_TARGET_DIR={given} put the package elsewhere"
        );
        assert!(
            package
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(name_start)),
            "{}",
            package.display()
        );
        assert!(package.is_file());

        // A target folder without the binaries is named, not ./target's used.
        fs::remove_file(target.join("release/vmaild")).unwrap();
        let ran = build(script, &dir, &given);
        assert!(!ran.ok(), "{script} packed without vmaild");
        assert!(
            ran.stderr
                .contains(&format!("{}/release/vmaild is missing", target.display())),
            "{}",
            ran.stderr
        );
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn build_deb_follows_cargo_target_dir() {
    check("build-deb.sh", "dpkg-deb", "debian", "vmail_");
}

#[test]
fn build_rpm_follows_cargo_target_dir() {
    check("build-rpm.sh", "rpmbuild", "rpm", "vmail-");
}
