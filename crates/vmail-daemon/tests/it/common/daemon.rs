//! The real `vmaild` binary, started on a capture-mode configuration in a
//! temp folder and always stopped by its PID.

use std::path::{Path, PathBuf};

use vmail_testkit::process::Vmaild;
pub use vmail_testkit::process::wait_for;

/// vmaild on a configuration in a temp folder (`vsisrv.ini`, `spool/`),
/// the shared [`Vmaild`] with this crate's binary.
pub struct Daemon {
    vmaild: Vmaild,
    pub dir: PathBuf,
}

/// `dir/vsisrv.ini` in capture mode; `extra_vmail` is more `[VMAIL]`
/// lines.
pub fn write_config(dir: &Path, extra_vmail: &str) -> PathBuf {
    super::ini::Ini::capture().with(extra_vmail).write(dir)
}

impl Daemon {
    /// [`write_config`] with `extra_vmail`, then [`Daemon::start`].
    pub fn capture(dir: &Path, extra_vmail: &str) -> Daemon {
        write_config(dir, extra_vmail);
        Daemon::start(dir)
    }

    pub fn start(dir: &Path) -> Daemon {
        Daemon::start_program(dir, Path::new(env!("CARGO_BIN_EXE_vmaild")))
    }

    /// [`Daemon::start`] through `program`, which takes vmaild's arguments
    /// and execs it (a wrapper that sets limits keeps the PID).
    pub fn start_program(dir: &Path, program: &Path) -> Daemon {
        let vmaild = Vmaild::start(
            program,
            &dir.join("vsisrv.ini"),
            &dir.join("spool"),
            &dir.join("vmaild.stderr"),
        );
        Daemon {
            vmaild,
            dir: dir.to_path_buf(),
        }
    }

    /// The spool beside the ini, `dir/spool`.
    pub fn spool(&self) -> PathBuf {
        self.dir.join("spool")
    }

    pub fn pid(&self) -> u32 {
        self.vmaild.pid()
    }

    pub fn signal(&self, name: &str) {
        self.vmaild.signal(name);
    }

    pub fn log(&self) -> String {
        self.vmaild.log()
    }

    /// Waits, bounded, until the daemon log contains `text`.
    pub fn wait_for_log(&self, text: &str) {
        self.vmaild.wait_for_log(text);
    }

    /// SIGTERM, then a bounded wait for the exit status.
    pub fn stop(self) -> std::process::ExitStatus {
        self.vmaild.stop()
    }

    pub fn kill9(self) {
        self.vmaild.kill9();
    }
}

/// Puts a message into `in/` the way the README tells programs to: write a
/// dot-file, then rename it.
pub fn drop_eml(spool: &Path, name: &str, text: &str) {
    let temp = spool.join("in").join(format!(".{name}"));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, spool.join("in").join(name)).unwrap();
}

/// Writes `files` (name, bytes) into `in/{job}.files`, the folder a
/// `{job}.job` attaches from, before the job itself is dropped.
pub fn stage_files(spool: &Path, job: &str, files: &[(&str, &[u8])]) {
    let folder = spool.join("in").join(format!("{job}.files"));
    std::fs::create_dir_all(&folder).unwrap();
    for (name, bytes) in files {
        std::fs::write(folder.join(name), bytes).unwrap();
    }
}

pub fn eml(subject: &str) -> String {
    format!(
        "From: fax@example.test\nTo: Ann <ann@example.test>\nSubject: {subject}\nMessage-ID: <{subject}@example.test>\n\nHello.\n"
    )
}

pub fn captures(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir.join("capture"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

pub fn captured_text(dir: &Path) -> String {
    captures(dir)
        .iter()
        .map(|name| std::fs::read_to_string(dir.join("capture").join(name)).unwrap())
        .collect()
}
