//! Running a command a test needs (a package tool, `stat`, a binary under
//! test) with a deadline and its output captured, written once: past the
//! deadline the command is killed and reaped, so no test leaves one behind
//! and no test hangs on one.

use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use crate::process::poll;

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

/// Runs `cmd` (stdin closed) and waits at most `limit`; past it the command
/// is killed and the error says so. `what` names it in every message.
pub fn run_bounded(cmd: &mut Command, what: &str, limit: Duration) -> Result<Ran, RunError> {
    run(cmd.stdin(Stdio::null()), what, limit, Vec::new())
}

/// [`run_bounded`] with `input` on the command's stdin, a pipe (closed at
/// once when `input` is empty). The input is written from a thread of its
/// own, and stdout and stderr are read by theirs, so a command that writes
/// more than a pipe holds before it has read all its input cannot deadlock
/// the test; one that exits before reading it all (`sendmail -bp`) is not
/// an error.
pub fn run_bounded_with_input(
    cmd: &mut Command,
    what: &str,
    limit: Duration,
    input: &[u8],
) -> Result<Ran, RunError> {
    run(cmd.stdin(Stdio::piped()), what, limit, input.to_vec())
}

fn run(cmd: &mut Command, what: &str, limit: Duration, input: Vec<u8>) -> Result<Ran, RunError> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RunError::Start {
            what: what.to_string(),
            source,
        })?;
    let stdin = child.stdin.take();
    let writer = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    });
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_reader = thread::spawn(move || read_all(out.as_mut()));
    let err_reader = thread::spawn(move || read_all(err.as_mut()));
    let mut waited = Ok(None);
    poll(limit, || {
        waited = child.try_wait();
        !matches!(waited, Ok(None))
    });
    let status = match waited {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let _ = writer.join();
            let stderr = err_reader.join().unwrap_or_default();
            return Err(match waited {
                Err(source) => RunError::Wait {
                    what: what.to_string(),
                    source,
                },
                _ => RunError::TimedOut {
                    what: what.to_string(),
                    limit,
                    stderr,
                },
            });
        }
    };
    let _ = writer.join();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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

    #[test]
    fn input_larger_than_a_pipe_goes_in_while_output_comes_out() {
        let input = vec![b'x'; 1 << 20];
        let ran = run_bounded_with_input(
            &mut Command::new("cat"),
            "cat",
            Duration::from_secs(20),
            &input,
        )
        .and_then(|ran| ran.succeeded("cat"));
        assert_eq!(ran.map(|ran| ran.stdout.len()).ok(), Some(1 << 20));
    }

    #[test]
    fn a_failed_run_names_the_command_and_its_stderr() {
        let err = run_bounded(
            Command::new("sh").args(["-c", "echo broken >&2; exit 3"]),
            "sh",
            Duration::from_secs(20),
        )
        .and_then(|ran| ran.succeeded("sh -c"))
        .err()
        .map(|err| err.to_string())
        .unwrap_or_default();
        assert_eq!(err, "sh -c failed (exit status: 3):\nbroken\n");
    }
}
