//! Helpers for the tests of vmail's packages (`tests/it/`): running
//! a command with a deadline, and reading what `dpkg-deb` and `stat` say.
//! The package itself is built by `packaging/build-deb.sh`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use vmail_testkit::command::{Ran, RunError, run_bounded};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether `program` is on the PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A line of `dpkg-deb -c` that is not an entry.
#[derive(Debug, thiserror::Error)]
#[error("not a dpkg-deb -c line: {line:?}")]
pub struct NotAnEntry {
    pub line: String,
}

/// One entry of `dpkg-deb -c`: `-rwxr-xr-x root/root 123 2026-11-23 20:00 ./usr/sbin/vmaild`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `ls -l` style, e.g. `-rw-r-----` or `drwxr-x---`.
    pub mode: String,
    /// `user/group`.
    pub owner: String,
    /// The path without its leading `.`: `/usr/sbin/vmaild`, `/etc/vmail/`.
    pub path: String,
    /// The target of a symbolic link.
    pub link: Option<String>,
}

/// Parses the output of `dpkg-deb -c`.
pub fn parse_contents(listing: &str) -> Result<Vec<Entry>, NotAnEntry> {
    listing
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 6 {
                return Err(NotAnEntry {
                    line: line.to_string(),
                });
            }
            let rest = fields[5..].join(" ");
            let (path, link) = match rest.split_once(" -> ") {
                Some((path, target)) => (path.to_string(), Some(target.to_string())),
                None => (rest, None),
            };
            Ok(Entry {
                mode: fields[0].to_string(),
                owner: fields[1].to_string(),
                path: path.strip_prefix('.').unwrap_or(&path).to_string(),
                link,
            })
        })
        .collect()
}

/// Owner, group and permission bits of a path, as `stat -c '%U:%G %a'` says.
pub fn owner_mode(path: &Path) -> Result<String, RunError> {
    let what = format!("stat {}", path.display());
    let ran = run_bounded(
        Command::new("stat").args(["-c", "%U:%G %a"]).arg(path),
        &what,
        Duration::from_secs(10),
    )?
    .succeeded(&what)?;
    Ok(ran.stdout.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_deb_listings_parse() {
        let listing = "drwxr-x--- root/root         0 2026-11-23 20:00 ./etc/vmail/\n\
                       -rw-r----- root/root      7615 2026-11-23 20:00 ./etc/vmail/vsisrv.ini\n\
                       lrwxrwxrwx root/root         0 2026-11-23 20:00 ./usr/sbin/x -> vmaild\n";
        let entries = parse_contents(listing).map_err(|e| e.to_string());
        let entries = entries.as_deref().unwrap_or_default();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, "/etc/vmail/");
        assert_eq!(entries[1].mode, "-rw-r-----");
        assert_eq!(entries[1].owner, "root/root");
        assert_eq!(entries[2].path, "/usr/sbin/x");
        assert_eq!(entries[2].link.as_deref(), Some("vmaild"));
        assert!(parse_contents("nonsense\n").is_err());
    }
}
