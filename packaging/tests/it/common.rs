//! What the package tests share: the bounds, whether this is root, a
//! fresh temp folder, and building a package with the project's script.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use vmail_packaging_tests::{RunError, repo_root, run_bounded};

/// The release build of the whole daemon and CLI on a busy 2-core
/// machine, and the package around it.
pub const BUILD_LIMIT: Duration = Duration::from_secs(45 * 60);
/// Any other command a test runs.
pub const SHORT: Duration = Duration::from_secs(60);

pub fn is_root() -> bool {
    run_bounded(Command::new("id").arg("-u"), "id -u", SHORT)
        .map(|r| r.stdout.trim() == "0")
        .unwrap_or(false)
}

/// A new, empty folder under cargo's temp folder for tests, named after
/// `what` and this process (removed first if an earlier run left it).
pub fn tempdir(what: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("packaging-{what}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `packaging/SCRIPT --out OUT ARGS...` (build-deb.sh, build-rpm.sh), run
/// with the cargo that runs the tests; the package's path, which the
/// script prints.
pub fn build_package(script: &str, out: &Path, args: &[&str]) -> Result<PathBuf, RunError> {
    let _ = fs::remove_dir_all(out);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let ran = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("packaging").join(script))
            .arg("--out")
            .arg(out)
            .args(args)
            .env("CARGO", cargo),
        script,
        BUILD_LIMIT,
    )?
    .succeeded(script)?;
    Ok(PathBuf::from(ran.stdout.trim()))
}

/// A package built by `script` into `folder` of cargo's temp folder,
/// once per test binary (`cell` keeps it); a failed build fails every
/// test that needs the package, each with the script's stderr.
pub fn built_once(
    cell: &'static OnceLock<Result<PathBuf, RunError>>,
    script: &str,
    folder: &str,
) -> &'static Path {
    let built = cell.get_or_init(|| {
        build_package(
            script,
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join(folder),
            &[],
        )
    });
    match built {
        Ok(path) => path,
        Err(why) => panic!("{why}"),
    }
}
