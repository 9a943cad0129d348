//! The spool root: its layout, the pid lock and recovery at start.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vmail_core::JobId;

use crate::error::{NotPermitted, SpoolError};
use crate::fsutil::{self, FILE_MODE};

/// The folders under the spool root, in the order they are created.
pub(crate) const DIRS: [&str; 7] = ["in", "queue", "tmp", "logs", "sent", "failed", "quarantine"];

/// A spool on disk. Cheap to clone; holds no open file. Every method is
/// synchronous (the daemon calls them from a blocking thread).
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

/// The pid lock: while this value lives, no other `vmaild` can lock the
/// spool. Dropping it releases the lock (so does the process dying).
#[derive(Debug)]
pub struct SpoolLock {
    _file: File,
    path: PathBuf,
}

impl SpoolLock {
    /// The pid file, `<spool>/vmaild.pid`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`Spool::recover`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Leftovers of interrupted writes removed from `tmp/`.
    pub temp_removed: usize,
    /// State records whose message had already moved to `sent/` or
    /// `failed/` (a crash between the two renames of a finish): moved after it.
    pub states_finished: usize,
    /// State records with no message anywhere: removed.
    pub orphan_states_removed: usize,
    /// Jobs in the queue after recovery.
    pub queued: usize,
}

/// For the daemon log, in words: what a person reads at start.
impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut repairs = Vec::new();
        let mut count = |n: usize, one: &str, many: &str| match n {
            0 => {}
            1 => repairs.push(format!("1 {one}")),
            n => repairs.push(format!("{n} {many}")),
        };
        count(
            self.temp_removed,
            "unfinished write removed from tmp/",
            "unfinished writes removed from tmp/",
        );
        count(
            self.states_finished,
            "finished job's state record moved after it",
            "finished jobs' state records moved after them",
        );
        count(
            self.orphan_states_removed,
            "state record without a job removed",
            "state records without a job removed",
        );
        let queued = match self.queued {
            1 => "1 job queued".to_string(),
            n => format!("{n} jobs queued"),
        };
        if repairs.is_empty() {
            write!(f, "{queued}, nothing to repair")
        } else {
            write!(f, "{queued}; repaired: {}", repairs.join(", "))
        }
    }
}

impl Spool {
    /// Opens the spool at `root`, creating it and its folders (mode 0750) as
    /// needed. A folder that others may write to is refused, with the fix.
    /// `root` itself may be a symbolic link (an administrator's choice);
    /// the folders inside may not.
    ///
    /// A `Permission denied` stays a plain [`SpoolError::Io`] here: `vfx`
    /// and the shim open the spool too, and the `chown` advice of
    /// [`Spool::open_for_daemon`] would be wrong for them.
    pub fn open(root: impl AsRef<Path>) -> Result<Spool, SpoolError> {
        let root = root.as_ref().to_path_buf();
        match fs::metadata(&root) {
            Ok(meta) => fsutil::check_dir(&root, &meta)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => fsutil::ensure_dir(&root)?,
            Err(err) => return Err(SpoolError::io("inspect", &root)(err)),
        }
        for dir in DIRS {
            fsutil::ensure_dir(&root.join(dir))?;
        }
        crate::maildrop::ensure_dir(&root.join("maildrop"))?;
        Ok(Spool { root })
    }

    /// [`Spool::open`] for the daemon, which must own the spool: a
    /// `Permission denied` becomes [`SpoolError::NotPermitted`], naming the
    /// path, its owner and the `chown -R` that gives the tree to the user
    /// the daemon runs as.
    pub fn open_for_daemon(root: impl AsRef<Path>) -> Result<Spool, SpoolError> {
        let root = root.as_ref();
        Spool::open(root).map_err(|err| explain_denied(root, err))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The drop folder, `in/`, that other programs rename files into.
    pub fn in_dir(&self) -> PathBuf {
        self.root.join("in")
    }

    pub fn queue_dir(&self) -> PathBuf {
        self.root.join("queue")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn sent_dir(&self) -> PathBuf {
        self.root.join("sent")
    }

    pub fn failed_dir(&self) -> PathBuf {
        self.root.join("failed")
    }

    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    /// The daemon's own log, `logs/vmail` (written by the daemon).
    pub fn daemon_log_path(&self) -> PathBuf {
        self.logs_dir().join("vmail")
    }

    /// A queued job's message file, `queue/<id>`.
    pub fn message_path(&self, id: &JobId) -> PathBuf {
        self.queue_dir().join(id.as_str())
    }

    /// A queued job's state record, `queue/<id>.state`.
    pub fn state_path(&self, id: &JobId) -> PathBuf {
        self.queue_dir().join(format!("{id}.state"))
    }

    /// A job's log, `logs/<id>.log`.
    pub fn log_path(&self, id: &JobId) -> PathBuf {
        self.logs_dir().join(format!("{id}.log"))
    }

    /// A fresh, unique temp path in `tmp/` for writing `what`.
    pub(crate) fn temp_path(&self, what: &str) -> PathBuf {
        let nonce: u64 = vmail_core::unique::random_u64();
        self.tmp_dir()
            .join(format!("{what}.{}.{nonce:016x}", std::process::id()))
    }

    /// Checks that this process may create and remove files in the spool
    /// root and in each of its folders, before the daemon starts work: a
    /// tree left root-owned (a first run as root, then the unit's
    /// `User=vmail`) is refused once, at start, with the folder, its owner
    /// and the `chown` to run ([`SpoolError::NotPermitted`]), rather than
    /// failing job by job later.
    pub fn check_writable(&self) -> Result<(), SpoolError> {
        use rustix::fs::{Access, access};
        let folders = std::iter::once(self.root.clone()).chain(DIRS.map(|dir| self.root.join(dir)));
        for folder in folders {
            if let Err(errno) = access(&folder, Access::WRITE_OK | Access::EXEC_OK) {
                let err = SpoolError::io("write in", &folder)(errno.into());
                return Err(explain_denied(&self.root, err));
            }
        }
        Ok(())
    }

    /// Takes the pid lock (`vmaild.pid`). A second holder, in this process
    /// or another, gets [`SpoolError::AlreadyRunning`] naming the pid.
    pub fn lock(&self) -> Result<SpoolLock, SpoolError> {
        self.lock_pid_file()
            .map_err(|err| explain_denied(&self.root, err))
    }

    fn lock_pid_file(&self) -> Result<SpoolLock, SpoolError> {
        let path = self.root.join("vmaild.pid");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(SpoolError::io("open", &path))?;
        fsutil::adopt(&file, &path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(SpoolError::AlreadyRunning {
                    spool: self.root.clone(),
                    pid: text.trim().parse().ok(),
                });
            }
            Err(fs::TryLockError::Error(err)) => return Err(SpoolError::io("lock", &path)(err)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.sync_all())
            .map_err(SpoolError::io("write", &path))?;
        Ok(SpoolLock { _file: file, path })
    }

    /// Repairs what a crash can leave: empties `tmp/` (but for the files of
    /// a writer still at work, see below), finishes or removes state records
    /// whose message is gone. Call it at start, under the lock.
    ///
    /// `vfx` and the sendmail shim write in `tmp/` without the daemon's
    /// lock, so a daemon starting while one of them writes must not take
    /// its file away (the submit would fail with "No such file or
    /// directory"). A temp name carries its writer's pid: a file of a
    /// process that is still alive, modified within the last hour, stays.
    pub fn recover(&self) -> Result<Recovery, SpoolError> {
        self.repair().map_err(|err| explain_denied(&self.root, err))
    }

    fn repair(&self) -> Result<Recovery, SpoolError> {
        let mut recovery = Recovery {
            temp_removed: self.empty_tmp()?,
            ..Recovery::default()
        };
        let queue = self.queue_dir();
        // Streamed, not listed: a million queued jobs are two million names,
        // which a list would hold all at once at every start.
        for entry in fs::read_dir(&queue).map_err(SpoolError::io("read directory", &queue))? {
            let entry = entry.map_err(SpoolError::io("read directory", &queue))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".state") else {
                recovery.queued += usize::from(JobId::parse(&name).is_ok());
                continue;
            };
            if queue.join(stem).exists() {
                continue;
            }
            let state = queue.join(&name);
            let home = [self.sent_dir(), self.failed_dir()]
                .into_iter()
                .find(|dir| dir.join(stem).exists());
            match home {
                Some(dir) => {
                    fsutil::rename(&state, &dir.join(&name))?;
                    fsutil::sync_dir(&dir)?;
                    recovery.states_finished += 1;
                }
                None => {
                    fsutil::remove_if_present(&state)?;
                    recovery.orphan_states_removed += 1;
                }
            }
        }
        fsutil::sync_dir(&queue)?;
        Ok(recovery)
    }

    fn empty_tmp(&self) -> Result<usize, SpoolError> {
        let tmp = self.tmp_dir();
        let mut removed = 0;
        for name in list_names(&tmp)? {
            let path = tmp.join(&name);
            let gone = match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path).map(|()| true),
                Ok(meta) if being_written(&name, &meta) => Ok(false),
                Ok(_) => fsutil::remove_if_present(&path).map_err(io::Error::other),
                Err(_) => Ok(false),
            };
            removed += usize::from(gone.map_err(SpoolError::io("remove", &path))?);
        }
        Ok(removed)
    }
}

/// A `Permission denied` from the spool's own I/O, turned into the error
/// that says whose the path is, who this process is and the `chown` that
/// fixes the tree under `root`; any other error is returned as it is.
fn explain_denied(root: &Path, err: SpoolError) -> SpoolError {
    use std::os::unix::fs::MetadataExt;
    let SpoolError::Io {
        action,
        path,
        source,
    } = err
    else {
        return err;
    };
    if source.kind() != io::ErrorKind::PermissionDenied {
        return SpoolError::Io {
            action,
            path,
            source,
        };
    }
    // The path itself, or the folder that keeps it from being seen or made.
    let folder = fsutil::folder_of(&path).unwrap_or(root).to_path_buf();
    let (owned, meta) = match fs::metadata(&path) {
        Ok(meta) => (path.clone(), Some(meta)),
        Err(_) => {
            let meta = fs::metadata(&folder).ok();
            (folder, meta)
        }
    };
    let owner = meta.as_ref().map_or_else(
        || "an unknown owner".to_string(),
        |meta| format!("{}:{}", user_name(meta.uid()), group_name(meta.gid())),
    );
    // /proc/self belongs to the effective user and group of the process.
    let me = fs::metadata("/proc/self").ok();
    SpoolError::NotPermitted(Box::new(NotPermitted {
        action,
        path,
        owned,
        owner,
        mode: meta.map(|meta| meta.mode() & 0o7777),
        user: me
            .as_ref()
            .map_or_else(|| "vmail".to_string(), |me| user_name(me.uid())),
        group: me.map_or_else(|| "vmail".to_string(), |me| group_name(me.gid())),
        root: root.to_path_buf(),
    }))
}

/// The name of user `uid` in `/etc/passwd`, or the number.
fn user_name(uid: u32) -> String {
    account_name("/etc/passwd", uid).unwrap_or_else(|| uid.to_string())
}

/// The name of group `gid` in `/etc/group`, or the number.
fn group_name(gid: u32) -> String {
    account_name("/etc/group", gid).unwrap_or_else(|| gid.to_string())
}

/// The name with id `id` in a passwd(5)- or group(5)-shaped file (local
/// accounts only: a directory service's names come out as numbers, which
/// `chown` takes as well).
fn account_name(file: &str, id: u32) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let found: u32 = fields.nth(1)?.parse().ok()?;
        (found == id && !name.is_empty()).then(|| name.to_string())
    })
}

/// A temp file older than this is a leftover whatever its name says (pids
/// are reused).
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Whether a file in `tmp/` is another process's write in progress: named
/// by [`Spool::temp_path`] (`<what>.<pid>.<16 hex digits>`) for a pid other
/// than ours that is alive, and modified recently.
fn being_written(name: &str, meta: &fs::Metadata) -> bool {
    let recent = meta
        .modified()
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|age| age < STALE_TEMP);
    recent && writer_pid(name).is_some_and(|pid| pid != std::process::id() && is_alive(pid))
}

/// The writer's pid in a temp name, when it has the shape `temp_path` gives.
fn writer_pid(name: &str) -> Option<u32> {
    let mut parts = name.rsplit('.');
    let nonce = parts.next()?;
    if nonce.len() != 16 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Whether process `pid` exists: `kill(pid, 0)`, which answers `EPERM` for
/// another user's live process. Not `/proc/<pid>`: vmaild.service's
/// `ProtectProc=invisible` hides the processes of other users (root's vfx)
/// from vmaild, whose files would then be taken away while being written.
fn is_alive(pid: u32) -> bool {
    use rustix::process::{Pid, test_kill_process};
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    match test_kill_process(pid) {
        Ok(()) => true,
        Err(err) => err == rustix::io::Errno::PERM,
    }
}

/// The names in a directory (not following links), unsorted.
pub(crate) fn list_names(dir: &Path) -> Result<Vec<String>, SpoolError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(SpoolError::io("read directory", dir))? {
        let entry = entry.map_err(SpoolError::io("read directory", dir))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod liveness_tests {
    use super::is_alive;

    #[test]
    fn a_writer_is_alive_while_its_process_is() {
        assert!(is_alive(std::process::id()));
        // init: root's process, which kill(pid, 0) by anyone else answers EPERM.
        assert!(is_alive(1));
        // Above the largest pid_max Linux allows (2^22): never a process.
        assert!(!is_alive(4_194_305));
        assert!(!is_alive(u32::MAX));
        assert!(!is_alive(0));
    }
}
