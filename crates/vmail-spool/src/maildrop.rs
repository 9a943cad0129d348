//! `maildrop/`: where local users who cannot write the spool submit, through
//! the setgid-`vmail` helper `vmail-postdrop` (Postfix's `postdrop` design).
//!
//! The folder is mode 1730 `vmail:vmail`: group `vmail` (the helper, while it
//! runs) may create files but not list or read the folder, nobody else may
//! enter it, and the sticky bit keeps one submitter from removing another's
//! file. A file is created `.NAME` (0640), written, fsynced, made 0440 and
//! renamed to `NAME`, a job id the helper draws. Its owner is the submitting
//! user (a setgid program creates files as its real user): that owner, set by
//! the kernel, is what the daemon believes, not the file's words.
//!
//! ```text
//! U1001 alice                  <- written by the helper: the real uid and its name
//! Fann@example.com             <- then the queue entry's envelope, from the front end:
//! Nvfx: 1 file(s), 4821 bytes     `F` sender, optional `N` note, `T` recipients,
//! Tbob@example.org                a blank line, the message
//!
//! From: ...
//! ```
//!
//! The daemon reads every file here as untrusted input
//! ([`Spool::ingest_maildrop`]): a regular file with one link, not a link,
//! under the size limit, whose `U` line names its owner, with a valid
//! envelope and a message; anything else goes to `quarantine/` with a reason.

use std::fs::{self, File, Metadata};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use vmail_core::{Envelope, JobId};

use crate::drops::open_plain;
use crate::entry::{self, HeaderError};
use crate::error::{Corrupt, IngestError, SpoolError};
use crate::fsutil;
use crate::spool::Spool;

/// The maildrop folder's mode: group may create (`-wx`), nobody may list,
/// sticky.
pub const MAILDROP_MODE: u32 = 0o1730;
/// A maildrop file's mode once complete: the owner (the submitter) and the
/// group may only read; only the group's members (the daemon) can reach it.
pub const MAILDROP_FILE_MODE: u32 = 0o440;
/// Bytes a maildrop file may hold beyond the message limit: the `U` line and
/// the envelope (thousands of recipients).
const ENVELOPE_ALLOWANCE: u64 = 4 << 20;
/// A `.NAME` file older than this is a helper that died (killed by its
/// user, a full disk): removed.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The real and effective ids of this process, as the kernel reports them
/// in `/proc/self/status` (no `unsafe`, no libc call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub ruid: u32,
    pub euid: u32,
    pub suid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub sgid: u32,
}

impl Ids {
    /// Reads `/proc/self/status`. Without procfs there is no answer, and the
    /// helper refuses to run.
    pub fn current() -> io::Result<Ids> {
        Ids::parse(&fs::read_to_string("/proc/self/status")?)
            .ok_or_else(|| io::Error::other("/proc/self/status has no Uid or Gid line"))
    }

    fn parse(status: &str) -> Option<Ids> {
        let ids = |key: &str| -> Option<[u32; 3]> {
            let line = status.lines().find_map(|l| l.strip_prefix(key))?;
            let mut parts = line.split_whitespace().map(|p| p.parse::<u32>().ok());
            Some([parts.next()??, parts.next()??, parts.next()??])
        };
        let [ruid, euid, suid] = ids("Uid:")?;
        let [rgid, egid, sgid] = ids("Gid:")?;
        Some(Ids {
            ruid,
            euid,
            suid,
            rgid,
            egid,
            sgid,
        })
    }
}

/// The name of user `uid` in `/etc/passwd` (local accounts; `None` for
/// others, such as a directory service's).
pub fn user_name(uid: u32) -> Option<String> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// Why the helper could not deposit a submission.
#[derive(Debug, thiserror::Error)]
pub enum MaildropError {
    /// The front end's envelope is malformed.
    #[error("the submission's envelope is bad: {0}")]
    Envelope(#[from] HeaderError),
    #[error("the message is over [VMAIL] max-message-size ({limit} bytes); nothing was queued")]
    TooLarge { limit: u64 },
    #[error("the message is empty; nothing was queued")]
    Empty,
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl MaildropError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> MaildropError {
        let path = path.to_path_buf();
        move |source| MaildropError::Io {
            action,
            path,
            source,
        }
    }
}

/// What a front end hands to the helper on its standard input: the queue
/// entry's envelope (with `note`, the front end's own words for the job's
/// log) and the message.
pub fn write_submission(
    out: &mut impl Write,
    envelope: &Envelope,
    note: Option<&str>,
    message: &[u8],
) -> io::Result<()> {
    entry::write_envelope(out, envelope, note)?;
    out.write_all(message)?;
    out.flush()
}

/// The helper's whole job: reads a submission from `input` (checked: the
/// envelope, at most `limit` bytes of message), and writes it into the
/// maildrop folder `dir` (already opened and checked by the caller) under a
/// new job id, owned by whoever runs this, with the `U` line for `uid`.
/// Returns the id, which the daemon keeps when it queues the file.
pub fn deposit(
    dir: &File,
    dir_path: &Path,
    uid: u32,
    input: &mut impl BufRead,
    limit: u64,
) -> Result<JobId, MaildropError> {
    let header = entry::read_header(input)?;
    let id = new_id().map_err(|e| MaildropError::Io {
        action: "make a job id in",
        path: dir_path.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })?;
    let temp = format!(".{id}");
    let temp_path = dir_path.join(&temp);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, temp.as_str(), flags, Mode::from_raw_mode(0o640))
        .map_err(|e| MaildropError::io("create", &temp_path)(e.into()))?;
    let mut file = File::from(fd);
    let written = write_drop(&mut file, uid, &header, input, limit, &temp_path).and_then(|()| {
        rustix::fs::fchmod(&file, Mode::from_raw_mode(MAILDROP_FILE_MODE))
            .map_err(|e| MaildropError::io("set the mode of", &temp_path)(e.into()))?;
        // The folder cannot be fsynced: the helper may not open it for
        // reading. The file itself is on disk; the daemon fsyncs the queue.
        rustix::fs::renameat(dir, temp.as_str(), dir, id.as_str())
            .map_err(|e| MaildropError::io("rename", &temp_path)(e.into()))
    });
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, temp.as_str(), rustix::fs::AtFlags::empty());
    }
    written.map(|()| id)
}

fn write_drop(
    file: &mut File,
    uid: u32,
    header: &entry::Header,
    input: &mut impl BufRead,
    limit: u64,
    path: &Path,
) -> Result<(), MaildropError> {
    let name = user_name(uid).unwrap_or_else(|| "?".to_string());
    let mut out = io::BufWriter::new(&mut *file);
    let io_err = MaildropError::io("write", path);
    let mut head = format!("U{uid} {}\n", entry::one_line(&name)).into_bytes();
    entry::write_envelope(&mut head, &header.envelope, header.note.as_deref())
        .map_err(MaildropError::io("write", path))?;
    out.write_all(&head)
        .map_err(MaildropError::io("write", path))?;
    let copied = io::copy(&mut input.take(limit.saturating_add(1)), &mut out)
        .map_err(MaildropError::io("write", path))?;
    if copied > limit {
        return Err(MaildropError::TooLarge { limit });
    }
    if copied == 0 {
        return Err(MaildropError::Empty);
    }
    out.flush().map_err(MaildropError::io("write", path))?;
    drop(out);
    file.sync_all().map_err(io_err)
}

fn new_id() -> Result<JobId, vmail_core::InvalidJobId> {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
    JobId::from_parts(&stamp, vmail_core::unique::random_u64())
}

/// Creates `maildrop/` (mode 1730, given to the spool's owner when root
/// makes it) when missing; an existing one is checked, never re-moded: its
/// mode is the administrator's.
pub(crate) fn ensure_dir(path: &Path) -> Result<(), SpoolError> {
    let existed = fs::symlink_metadata(path).is_ok();
    fsutil::ensure_dir(path)?;
    if !existed {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(MAILDROP_MODE))
            .map_err(SpoolError::io("set the mode of", path))?;
    }
    Ok(())
}

/// Opens a file read-only without following a link or waiting on a FIFO
/// (for the helper's fixed configuration path).
pub fn open_no_follow(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::empty())
        .map(File::from)
        .map_err(io::Error::from)
}

/// Opens a folder without following a link, as a handle for `openat` and
/// `renameat` only (`O_PATH`): the helper's group may create in
/// `maildrop/` (`-wx`) but not read it, which an ordinary open needs.
pub fn open_dir_no_follow(path: &Path) -> io::Result<File> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::empty())
        .map(File::from)
        .map_err(io::Error::from)
}

/// A maildrop file's submitter, as the daemon establishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitter {
    /// The file's owner (the kernel's word).
    pub uid: u32,
    /// Its name in `/etc/passwd`, looked up by the daemon.
    pub name: Option<String>,
}

impl std::fmt::Display for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "uid {} ({name})", self.uid),
            None => write!(f, "uid {} (no local name)", self.uid),
        }
    }
}

impl Spool {
    /// `maildrop/`, where `vmail-postdrop` writes local users' submissions.
    pub fn maildrop_dir(&self) -> PathBuf {
        self.root().join("maildrop")
    }

    /// The complete files in `maildrop/`, sorted by name (job ids sort by
    /// time). `.NAME` files are being written; those older than an hour are
    /// leftovers of a helper that died, and are removed here.
    pub fn maildrops(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let dir = self.maildrop_dir();
        let mut found = Vec::new();
        for name in crate::spool::list_names(&dir)? {
            let path = dir.join(&name);
            if name.starts_with('.') {
                let stale = fs::symlink_metadata(&path)
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMP);
                if stale {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            found.push(path);
        }
        found.sort();
        Ok(found)
    }

    /// Queues one maildrop file, keeping the helper's job id when it is free,
    /// then removes the file. Everything in it is checked as untrusted input;
    /// a file that fails goes to `quarantine/` with the reason.
    pub fn ingest_maildrop(
        &self,
        path: &Path,
        limit: u64,
    ) -> Result<(JobId, Submitter), IngestError> {
        let (mut reader, header, submitter) = match prepare(path, limit) {
            Ok(prepared) => prepared,
            Err(corrupt) => return Err(IngestError::Quarantined(self.quarantine(corrupt)?)),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut note = format!(
            "submitted by {submitter} through maildrop/{name} to {}",
            header.envelope.recipients.join(", ")
        );
        if let Some(words) = &header.note {
            note.push_str(&format!(" (the submitter says: {words})"));
        }
        let wanted = JobId::parse(&name).ok();
        match self.queue_with_id(wanted, &header.envelope, &note, &mut reader, limit) {
            Ok(id) => {
                let _ = fs::remove_file(path);
                let _ = fsutil::sync_dir(&self.maildrop_dir());
                Ok((id, submitter))
            }
            Err(SpoolError::TooLarge { size, limit }) => {
                let reason =
                    format!("holds a message of {size} bytes, over the limit of {limit} bytes");
                Err(IngestError::Quarantined(
                    self.quarantine(Corrupt::new(path, reason))?,
                ))
            }
            Err(err) => Err(IngestError::Spool(err)),
        }
    }

    /// Writes the job in `tmp/` and links it into the queue as `wanted` when
    /// that id is free and unused, else under a new id.
    fn queue_with_id(
        &self,
        wanted: Option<JobId>,
        envelope: &Envelope,
        note: &str,
        message: &mut impl Read,
        limit: u64,
    ) -> Result<JobId, SpoolError> {
        let mut id = match wanted {
            Some(id) if !self.id_taken(&id) => id,
            _ => self.new_id()?,
        };
        let temp = self.temp_path(id.as_str());
        let file = fsutil::create_new(&temp)?;
        let note = format!("{} {note}", crate::joblog::stamp_now());
        let written = write_entry(&file, envelope, &note, message, limit, &temp)
            .and_then(|()| file.sync_all().map_err(SpoolError::io("fsync", &temp)));
        if let Err(err) = written {
            let _ = fs::remove_file(&temp);
            return Err(err);
        }
        loop {
            match fs::hard_link(&temp, self.message_path(&id)) {
                Ok(()) => break,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => id = self.new_id()?,
                Err(err) => {
                    let _ = fs::remove_file(&temp);
                    return Err(SpoolError::io("queue", &temp)(err));
                }
            }
        }
        fsutil::remove_if_present(&temp)?;
        fsutil::sync_dir(&self.queue_dir())?;
        Ok(id)
    }

    fn id_taken(&self, id: &JobId) -> bool {
        [self.queue_dir(), self.sent_dir(), self.failed_dir()]
            .iter()
            .any(|dir| dir.join(id.as_str()).exists())
            || self.log_path(id).exists()
    }
}

fn write_entry(
    file: &File,
    envelope: &Envelope,
    note: &str,
    message: &mut impl Read,
    limit: u64,
    temp: &Path,
) -> Result<(), SpoolError> {
    let mut out = io::BufWriter::new(file);
    entry::write_envelope(&mut out, envelope, Some(note)).map_err(SpoolError::io("write", temp))?;
    let copied = io::copy(&mut message.take(limit.saturating_add(1)), &mut out)
        .map_err(SpoolError::io("write", temp))?;
    if copied > limit {
        let rest = io::copy(message, &mut io::sink()).map_err(SpoolError::io("write", temp))?;
        return Err(SpoolError::TooLarge {
            size: copied + rest,
            limit,
        });
    }
    if copied == 0 {
        return Err(SpoolError::EmptyMessage);
    }
    out.flush().map_err(SpoolError::io("write", temp))
}

/// The checks of a maildrop file, in the order a reason is given.
fn prepare(
    path: &Path,
    limit: u64,
) -> Result<(BufReader<File>, entry::Header, Submitter), Corrupt> {
    let (file, meta) = open_plain(path).map_err(|why| Corrupt::new(path, why.to_string()))?;
    check_size(path, &meta, limit)?;
    let mut reader = BufReader::new(file);
    let claimed = read_user_line(&mut reader).map_err(|why| Corrupt::new(path, why.to_string()))?;
    if claimed != meta.uid() {
        return Err(Corrupt::new(
            path,
            format!(
                "says it comes from uid {claimed} but belongs to uid {}; not written by vmail-postdrop",
                meta.uid()
            ),
        ));
    }
    let header = entry::read_header(&mut reader)
        .map_err(|why| Corrupt::new(path, format!("has a bad envelope: {why}")))?;
    if reader.fill_buf().map_or(true, |rest| rest.is_empty()) {
        return Err(Corrupt::new(path, "has an envelope but no message"));
    }
    let submitter = Submitter {
        uid: meta.uid(),
        name: user_name(meta.uid()),
    };
    Ok((reader, header, submitter))
}

fn check_size(path: &Path, meta: &Metadata, limit: u64) -> Result<(), Corrupt> {
    let most = limit.saturating_add(ENVELOPE_ALLOWANCE);
    if meta.len() == 0 {
        return Err(Corrupt::new(path, "is empty"));
    }
    if meta.len() > most {
        return Err(Corrupt::new(
            path,
            format!("is {} bytes, over the limit of {limit} bytes", meta.len()),
        ));
    }
    Ok(())
}

/// Why a maildrop file does not start with the helper's `U` line; the
/// end of a sentence that starts with the file's name.
#[derive(Debug, thiserror::Error)]
enum UserLineError {
    #[error("cannot be read: {0}")]
    Unreadable(#[source] io::Error),
    #[error("does not start with the submitter's uid line (U<uid> <name>)")]
    Missing,
}

/// The `U<uid> <name>` line the helper writes first; the uid only (the name
/// is looked up again).
fn read_user_line(reader: &mut impl BufRead) -> Result<u32, UserLineError> {
    let mut line = Vec::new();
    reader
        .take(256)
        .read_until(b'\n', &mut line)
        .map_err(UserLineError::Unreadable)?;
    let text = std::str::from_utf8(&line).unwrap_or("");
    text.strip_prefix('U')
        .and_then(|rest| rest.split([' ', '\n']).next())
        .and_then(|uid| uid.parse().ok())
        .ok_or(UserLineError::Missing)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn ids_come_from_the_status_lines() {
        let status = "Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t112\t112\t1000\n";
        let ids = Ids::parse(status).unwrap();
        assert_eq!(
            (ids.ruid, ids.euid, ids.rgid, ids.egid),
            (1000, 1000, 1000, 112)
        );
        assert!(Ids::parse("Uid:\t1\n").is_none());
        assert!(Ids::current().is_ok());
    }

    fn deposit_into(spool: &Spool, text: &[u8]) -> Result<JobId, MaildropError> {
        let dir = open_dir_no_follow(&spool.maildrop_dir()).unwrap();
        deposit(
            &dir,
            &spool.maildrop_dir(),
            Ids::current().unwrap().ruid,
            &mut &text[..],
            1000,
        )
    }

    #[test]
    fn a_deposit_is_queued_under_its_id_with_the_submitter() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(root.path().join("s")).unwrap();
        let mode = fs::metadata(spool.maildrop_dir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, MAILDROP_MODE);
        let mut sub = Vec::new();
        let envelope = Envelope::new("a@x.test", vec!["b@x.test".into()]);
        write_submission(
            &mut sub,
            &envelope,
            Some("vfx: 1 file(s)"),
            b"Subject: s\n\nhi\n",
        )
        .unwrap();
        let id = deposit_into(&spool, &sub).unwrap();
        let path = spool.maildrop_dir().join(id.as_str());
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, MAILDROP_FILE_MODE);
        assert_eq!(spool.maildrops().unwrap(), std::slice::from_ref(&path));
        let (queued, submitter) = spool.ingest_maildrop(&path, 1000).unwrap();
        assert_eq!(queued, id, "the helper's id is kept");
        assert_eq!(submitter.uid, Ids::current().unwrap().ruid);
        assert!(!path.exists());
        let job = spool.load(&id).unwrap();
        assert_eq!(job.envelope, envelope);
    }

    #[test]
    fn the_helper_refuses_what_it_cannot_queue() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(root.path().join("s")).unwrap();
        let err = deposit_into(&spool, b"Fa@x\nTb@x\n\n").unwrap_err();
        assert_eq!(err.to_string(), "the message is empty; nothing was queued");
        let mut big = b"Fa@x\nTb@x\n\n".to_vec();
        big.extend(vec![b'x'; 1001]);
        let err = deposit_into(&spool, &big).unwrap_err();
        assert!(
            err.to_string()
                .contains("over [VMAIL] max-message-size (1000 bytes)"),
            "{err}"
        );
        let err = deposit_into(&spool, b"Fa@x\n\nhi\n").unwrap_err();
        assert!(err.to_string().contains("no recipients"), "{err}");
        assert!(spool.maildrops().unwrap().is_empty());
        let left = crate::spool::list_names(&spool.maildrop_dir()).unwrap();
        assert!(left.is_empty(), "no temp file left: {left:?}");
    }

    #[test]
    fn forged_and_broken_files_are_quarantined_with_a_reason() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(root.path().join("s")).unwrap();
        let me = Ids::current().unwrap().ruid;
        let cases: [(&str, String, &str); 4] = [
            (
                "a",
                format!("U{} x\nFa@x\nTb@x\n\nhi\n", me + 1),
                "says it comes from uid",
            ),
            (
                "b",
                "Fa@x\nTb@x\n\nhi\n".to_string(),
                "does not start with the submitter's uid line",
            ),
            (
                "c",
                format!("U{me} x\nFa@x\nXb@x\n\nhi\n"),
                "has a bad envelope",
            ),
            ("d", format!("U{me} x\nFa@x\nTb@x\n\n"), "no message"),
        ];
        for (name, text, why) in cases {
            let path = spool.maildrop_dir().join(name);
            fs::write(&path, text).unwrap();
            let err = spool.ingest_maildrop(&path, 1000).unwrap_err();
            let corrupt = err.corrupt().unwrap();
            assert!(corrupt.reason.contains(why), "{name}: {}", corrupt.reason);
            let reason = spool.quarantine_dir().join(format!("{name}.reason"));
            assert!(fs::read_to_string(reason).unwrap().contains(why));
        }
    }
}
