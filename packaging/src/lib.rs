//! Helpers for the tests of vmail's Debian package (`tests/deb.rs`): running
//! a command with a deadline, and reading what `dpkg-deb` and `stat` say.
//! The package itself is built by `packaging/build-deb.sh`.
#![forbid(unsafe_code)]

use std::io::{self, Read};
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

/// Why a command did not give what a test needs; `what` names the command
/// as the test ran it.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{what}: cannot start: {source}")]
    Start {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{what}: cannot wait for it: {source}")]
    Wait {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{what}: still running after {limit:?}, killed; stderr so far:\n{stderr}")]
    TimedOut {
        what: String,
        limit: Duration,
        stderr: String,
    },
    #[error("{what} failed ({status}):\n{stderr}")]
    Failed {
        what: String,
        status: ExitStatus,
        stderr: String,
    },
}

impl Ran {
    /// The run itself when it succeeded, else [`RunError::Failed`] with its
    /// stderr.
    pub fn succeeded(self, what: &str) -> Result<Ran, RunError> {
        if self.ok() {
            Ok(self)
        } else {
            Err(RunError::Failed {
                what: what.to_string(),
                status: self.status,
                stderr: self.stderr,
            })
        }
    }
}

/// A line of `dpkg-deb -c` that is not an entry.
#[derive(Debug, thiserror::Error)]
#[error("not a dpkg-deb -c line: {line:?}")]
pub struct NotAnEntry {
    pub line: String,
}

/// Runs `cmd` (stdin closed) and waits at most `limit`; past it the command
/// is killed and the error says so. `what` names it in every message.
pub fn run_bounded(cmd: &mut Command, what: &str, limit: Duration) -> Result<Ran, RunError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RunError::Start {
            what: what.to_string(),
            source,
        })?;
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
                return Err(RunError::TimedOut {
                    what: what.to_string(),
                    limit,
                    stderr,
                });
            }
            Err(source) => {
                return Err(RunError::Wait {
                    what: what.to_string(),
                    source,
                });
            }
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

    #[test]
    fn a_command_past_its_deadline_is_killed() {
        let started = Instant::now();
        let err = run_bounded(
            Command::new("sleep").arg("30"),
            "sleep 30",
            Duration::from_millis(200),
        )
        .err()
        .map(|err| err.to_string())
        .unwrap_or_default();
        assert!(err.starts_with("sleep 30: still running after"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
