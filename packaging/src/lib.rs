//! Helpers for the tests of vmail's Debian package (`tests/deb.rs`): running
//! a command with a deadline, and reading what `dpkg-deb` and `stat` say.
//! The package itself is built by `packaging/build-deb.sh`.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What a finished command did.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.status.success()
    }
}

/// Runs `cmd` (stdin closed) and waits at most `limit`; past it the command
/// is killed and the error says so. `what` names it in every message.
pub fn run_bounded(cmd: &mut Command, what: &str, limit: Duration) -> Result<Ran, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("{what}: cannot start: {err}"))?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_reader = thread::spawn(move || read_all(out.as_mut()));
    let err_reader = thread::spawn(move || read_all(err.as_mut()));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err_reader.join().unwrap_or_default();
                return Err(format!(
                    "{what}: still running after {limit:?}, killed; stderr so far:\n{stderr}"
                ));
            }
            Err(e) => return Err(format!("{what}: cannot wait for it: {e}")),
        }
    };
    Ok(Ran {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

fn read_all(pipe: Option<&mut impl Read>) -> String {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether `program` is on the PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
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
pub fn parse_contents(listing: &str) -> Result<Vec<Entry>, String> {
    listing
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 6 {
                return Err(format!("not a dpkg-deb -c line: {line:?}"));
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
pub fn owner_mode(path: &Path) -> Result<String, String> {
    let ran = run_bounded(
        Command::new("stat").args(["-c", "%U:%G %a"]).arg(path),
        "stat",
        Duration::from_secs(10),
    )?;
    if ran.ok() {
        Ok(ran.stdout.trim().to_string())
    } else {
        Err(format!("stat {}: {}", path.display(), ran.stderr.trim()))
    }
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

    #[test]
    fn a_command_past_its_deadline_is_killed() {
        let started = Instant::now();
        let err = run_bounded(
            Command::new("sleep").arg("30"),
            "sleep 30",
            Duration::from_millis(200),
        )
        .err()
        .unwrap_or_default();
        assert!(err.starts_with("sleep 30: still running after"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
