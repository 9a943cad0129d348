//! Pickup from the drop folder, `in/`: a dropped file becomes a queued job,
//! or goes to `quarantine/` with a reason.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use vmail_core::{Envelope, JobId};

use vmail_message::envelope::rewrites_note;
use vmail_message::{LocalNames, Rewrite, Stamp, Templates};

use crate::error::{Corrupt, IngestError, OpenError, SpoolError};
use crate::fsutil;
use crate::spool::Spool;
use crate::{eml, jobfile};

/// A drop turned into an envelope and a message, ready to be queued.
pub(crate) struct Prepared {
    pub envelope: Envelope,
    pub message: Box<dyn Read>,
    /// Files the job consumed besides itself (attachments, body file),
    /// removed once the job is queued.
    pub consumed: Vec<PathBuf>,
    /// Local names placed by `[VMAIL] admin-address`/`local-domain`, for
    /// the job log's first line.
    pub rewrites: Vec<Rewrite>,
    /// What became of each fax TIFF sent as PDF, for the job log's first
    /// line (a `.job`'s `attach-as = pdf`).
    pub faxes: Vec<String>,
}

/// What pickup applies to every drop besides the file itself.
#[derive(Debug, Clone, Copy)]
pub struct DropRules<'a> {
    /// `[VMAIL] from`: the envelope sender when not empty, else the
    /// message's own sender.
    pub default_from: &'a str,
    /// Where names without a domain go (`[VMAIL] admin-address`,
    /// `local-domain`).
    pub names: &'a LocalNames,
    /// The templates folder for `.job` drops that name a `template`
    /// (vmaild: `templates/` beside the ini); without it such a drop is
    /// quarantined.
    pub templates: Option<&'a Templates>,
    /// `[VMAIL] fax-attach-as`: how `.job` drops that do not say
    /// (`attach-as`) attach fax TIFFs.
    pub fax_attach_as: vmail_core::AttachAs,
    /// The largest message, in bytes.
    pub limit: u64,
}

impl Spool {
    /// The files in `in/` to pick up, sorted by name. Dot-files and `*.tmp`
    /// (files still being written) are left alone, and so are directories
    /// (they hold the attachments of `.job` files). Symbolic links and other
    /// odd files are listed: [`Spool::ingest`] quarantines them.
    pub fn drops(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let dir = self.in_dir();
        let mut found = Vec::new();
        for entry in fs::read_dir(&dir).map_err(SpoolError::io("read directory", &dir))? {
            let entry = entry.map_err(SpoolError::io("read directory", &dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.ends_with(".tmp") {
                continue;
            }
            // file_type() does not follow links: a link to a directory is listed.
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                continue;
            }
            found.push(entry.path());
        }
        found.sort();
        Ok(found)
    }

    /// Queues the dropped file `path` (fsynced), then removes it from `in/`.
    /// The envelope sender is `default_from` (`[VMAIL] from`) when it is not
    /// empty, else the message's own sender. A file that cannot be
    /// understood goes to `quarantine/` and comes back as
    /// [`IngestError::Quarantined`]; a spool failure leaves it in `in/`.
    pub fn ingest(
        &self,
        path: &Path,
        default_from: &str,
        limit: u64,
    ) -> Result<JobId, IngestError> {
        let mut results = self.ingest_many(&[path.to_path_buf()], default_from, limit);
        results.pop().unwrap_or_else(|| {
            Err(IngestError::Quarantined(Corrupt::new(
                path,
                "was not picked up",
            )))
        })
    }

    /// [`Spool::ingest`] for many drops with one group commit: every job is
    /// fsynced, but the waits for the disk are shared. Results come in the
    /// order of `paths`.
    pub fn ingest_many(
        &self,
        paths: &[PathBuf],
        default_from: &str,
        limit: u64,
    ) -> Vec<Result<JobId, IngestError>> {
        self.ingest_many_named(paths, default_from, &LocalNames::default(), limit)
    }

    /// [`Spool::ingest_many`] with names without a domain (`To: root`, a
    /// `.job`'s `to = root`) placed as `names` (`[VMAIL] admin-address`,
    /// `local-domain`) says; each job's log starts with what was rewritten.
    pub fn ingest_many_named(
        &self,
        paths: &[PathBuf],
        default_from: &str,
        names: &LocalNames,
        limit: u64,
    ) -> Vec<Result<JobId, IngestError>> {
        let rules = DropRules {
            default_from,
            names,
            templates: None,
            fax_attach_as: vmail_core::AttachAs::Tiff,
            limit,
        };
        self.ingest_many_with(paths, &rules)
    }

    /// [`Spool::ingest_many`] under all of pickup's [`DropRules`]: what
    /// vmaild uses.
    pub fn ingest_many_with(
        &self,
        paths: &[PathBuf],
        rules: &DropRules<'_>,
    ) -> Vec<Result<JobId, IngestError>> {
        let mut batch = self.batch();
        // `None`: in the batch, waiting for the commit.
        let mut results: Vec<Option<Result<JobId, IngestError>>> = Vec::new();
        let mut queued: Vec<(usize, Vec<PathBuf>)> = Vec::new();
        for (index, path) in paths.iter().enumerate() {
            match self.add_drop(&mut batch, path, rules) {
                Ok(consumed) => {
                    queued.push((index, consumed));
                    results.push(None);
                }
                Err(err) => results.push(Some(Err(err))),
            }
        }
        match batch.commit() {
            Ok(ids) => {
                for ((index, consumed), id) in queued.into_iter().zip(ids) {
                    results[index] = Some(Ok(id));
                    self.remove_consumed(&paths[index], &consumed);
                }
                let _ = fsutil::sync_dir(&self.in_dir());
            }
            Err(err) => {
                for (index, _) in queued {
                    results[index] = Some(Err(IngestError::Spool(copy_error(&err))));
                }
            }
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(IngestError::Spool(not_committed()))))
            .collect()
    }

    fn add_drop(
        &self,
        batch: &mut crate::Batch<'_>,
        path: &Path,
        rules: &DropRules<'_>,
    ) -> Result<Vec<PathBuf>, IngestError> {
        let limit = rules.limit;
        let prepared = match prepare(path, rules) {
            Ok(prepared) => prepared,
            Err(corrupt) => return Err(IngestError::Quarantined(self.quarantine(corrupt)?)),
        };
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let carried = crate::quarantine::take_carried_reason(path)
            .map(|reason| format!("; {reason}"))
            .unwrap_or_default();
        let faxes: String = prepared.faxes.iter().map(|f| format!("; {f}")).collect();
        let note = format!(
            "queued from in/{name}{}{carried}{faxes}",
            rewrites_note(&prepared.rewrites)
        );
        match batch.add_noted(&prepared.envelope, Some(&note), prepared.message, limit) {
            Ok(()) => Ok(prepared.consumed),
            Err(SpoolError::TooLarge { size, limit }) => {
                let reason =
                    format!("makes a message of {size} bytes, over the limit of {limit} bytes");
                Err(IngestError::Quarantined(
                    self.quarantine(Corrupt::new(path, reason))?,
                ))
            }
            Err(SpoolError::BadEnvelope(why)) => {
                let reason = format!("has a bad envelope: {why}");
                Err(IngestError::Quarantined(
                    self.quarantine(Corrupt::new(path, reason))?,
                ))
            }
            Err(SpoolError::EmptyMessage) => Err(IngestError::Quarantined(
                self.quarantine(Corrupt::new(path, "makes an empty message"))?,
            )),
            Err(other) => Err(IngestError::Spool(other)),
        }
    }

    fn remove_consumed(&self, drop: &Path, consumed: &[PathBuf]) {
        let _ = fs::remove_file(drop);
        if let Some(carried) = crate::quarantine::carried_reason_path(drop) {
            let _ = fs::remove_file(carried);
        }
        for file in consumed {
            let _ = fs::remove_file(file);
            // An emptied attachment folder goes too (remove_dir fails if not empty).
            if let Some(dir) = file.parent().filter(|dir| *dir != self.in_dir()) {
                let _ = fs::remove_dir(dir);
            }
        }
    }

    /// Moves `corrupt.path` to `quarantine/` (under a new name if taken),
    /// writes the reason beside it as `<name>.reason`, and returns the
    /// `Corrupt` with `quarantined` set.
    pub fn quarantine(&self, mut corrupt: Corrupt) -> Result<Corrupt, SpoolError> {
        let dir = self.quarantine_dir();
        let name = corrupt
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unnamed".to_string());
        let mut dest = dir.join(&name);
        let mut n = 1;
        while fs::symlink_metadata(&dest).is_ok() {
            dest = dir.join(format!("{name}.{n}"));
            n += 1;
        }
        fsutil::rename(&corrupt.path, &dest)?;
        let dest_name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        let note = dir.join(format!("{}.reason", dest_name.unwrap_or(name)));
        // A requeued file quarantined again keeps its earlier reason too.
        let carried = crate::quarantine::carried_reason_path(&corrupt.path);
        let text = match crate::quarantine::take_carried_reason(&corrupt.path) {
            Some(earlier) => format!("{corrupt}\n(earlier: {earlier})\n"),
            None => format!("{corrupt}\n"),
        };
        fsutil::write_atomic(&self.temp_path("reason"), &note, text.as_bytes())?;
        if let Some(carried) = carried {
            let _ = fs::remove_file(carried);
        }
        corrupt.quarantined = Some(dest);
        Ok(corrupt)
    }
}

/// The error of a failed commit, for each job of the batch.
fn copy_error(err: &SpoolError) -> SpoolError {
    let kind = match err {
        SpoolError::Io { source, .. } => source.kind(),
        _ => io::ErrorKind::Other,
    };
    SpoolError::Io {
        action: "queue the batch",
        path: PathBuf::from("queue"),
        source: io::Error::new(kind, err.to_string()),
    }
}

fn not_committed() -> SpoolError {
    SpoolError::Io {
        action: "queue the batch",
        path: PathBuf::from("queue"),
        source: io::Error::other("the batch returned fewer ids than jobs"),
    }
}

/// What pickup derives from a drop file itself rather than from the clock:
/// the Date and Message-ID it adds (a [`Stamp`]). If vmaild dies after
/// queueing a drop but before removing it, the drop is queued again after
/// the restart, and that second copy must carry the same Message-ID, so
/// that the recipient's server or mail program can see it is the same
/// message. The time is the drop's modification time (when its writer
/// finished it); the id hashes its identity (device, inode, times, size,
/// name).
pub(crate) fn drop_stamp(path: &Path, meta: &Metadata) -> Stamp {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same drop hashes the same in the
    // vmaild that crashed and in the one that restarted.
    let mut hasher = std::hash::DefaultHasher::new();
    (meta.dev(), meta.ino(), meta.size()).hash(&mut hasher);
    (
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    )
        .hash(&mut hasher);
    path.file_name().hash(&mut hasher);
    let written = meta
        .modified()
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or_else(|_| chrono::Utc::now());
    Stamp::at(written, hasher.finish())
}

/// Opens a file without following links: the file must be regular with one
/// link, and still be the file that was inspected once it is open. The open
/// itself refuses a link (`O_NOFOLLOW`) and never waits (`O_NONBLOCK`), so a
/// file swapped for a link or a FIFO after the inspection is refused, not
/// followed or waited on.
pub(crate) fn open_plain(path: &Path) -> Result<(File, Metadata), OpenError> {
    let before = fs::symlink_metadata(path).map_err(OpenError::Unreadable)?;
    if before.file_type().is_symlink() {
        return Err(OpenError::SymbolicLink);
    }
    if !before.is_file() {
        return Err(OpenError::NotRegular);
    }
    if before.nlink() > 1 {
        return Err(OpenError::HardLinks {
            links: before.nlink(),
        });
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(no_follow_no_wait())
        .open(path)
        .map_err(opening_failed)?;
    let after = checked(&file)?;
    if (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Err(OpenError::Replaced);
    }
    Ok((file, after))
}

/// Opens `relative` (plain components only, already checked) under the
/// folder `base` one component at a time with `openat(2)` and `O_NOFOLLOW`:
/// a folder on the way that is, or becomes, a symbolic link is refused by
/// the kernel at the moment of the open, so no check-then-open race can lead
/// outside the drop folder.
pub(crate) fn open_beneath(base: &Path, relative: &Path) -> Result<(File, Metadata), OpenError> {
    use rustix::fs::{Mode, OFlags, open, openat};
    let parts: Vec<&std::ffi::OsStr> = relative
        .components()
        .filter_map(|part| match part {
            std::path::Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    let Some((last, folders)) = parts.split_last() else {
        return Err(OpenError::NoFile);
    };
    let folder_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = open(base, folder_flags, Mode::empty())
        .map_err(|err| OpenError::Unreadable(io::Error::from(err)))?;
    for folder in folders {
        dir = openat(&dir, *folder, folder_flags, Mode::empty())
            .map_err(|err| opening_failed(io::Error::from(err)))?;
    }
    let file_flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = openat(&dir, *last, file_flags, Mode::empty())
        .map(File::from)
        .map_err(|err| opening_failed(io::Error::from(err)))?;
    let meta = checked(&file)?;
    Ok((file, meta))
}

fn no_follow_no_wait() -> i32 {
    use rustix::fs::OFlags;
    // The flag bits fit an i32 by definition (they are open(2)'s).
    i32::try_from((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits()).unwrap_or(0)
}

/// `ELOOP` (and `ENOTDIR` for a folder) is what `O_NOFOLLOW` answers for a link.
fn opening_failed(err: io::Error) -> OpenError {
    match err.raw_os_error() {
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => OpenError::SymbolicLink,
        Some(code) if code == rustix::io::Errno::NOTDIR.raw_os_error() => OpenError::LinkOnTheWay,
        _ => OpenError::Unopenable(err),
    }
}

/// What an opened file must be: regular, with exactly one link.
fn checked(file: &File) -> Result<Metadata, OpenError> {
    let meta = file.metadata().map_err(OpenError::Unreadable)?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular);
    }
    if meta.nlink() > 1 {
        return Err(OpenError::HardLinks {
            links: meta.nlink(),
        });
    }
    Ok(meta)
}

fn prepare(path: &Path, rules: &DropRules<'_>) -> Result<Prepared, Corrupt> {
    let DropRules {
        default_from,
        names,
        limit,
        ..
    } = *rules;
    let (file, meta) =
        open_plain(path).map_err(|why| Corrupt::new(path, open_reason(path, &why)))?;
    if meta.len() == 0 {
        return Err(Corrupt::new(path, "is empty"));
    }
    if meta.len() > limit {
        let reason = format!("is {} bytes, over the limit of {limit} bytes", meta.len());
        return Err(Corrupt::new(path, reason));
    }
    let stamp = drop_stamp(path, &meta);
    let suffix = path.extension().and_then(|s| s.to_str()).unwrap_or("");
    match suffix {
        "eml" => eml::prepare(file, default_from, names, &stamp)
            .map_err(|why| Corrupt::new(path, why.to_string())),
        "job" => jobfile::prepare(file, path, rules, &stamp)
            .map_err(|why| Corrupt::new(path, why.to_string())),
        _ => Err(Corrupt::new(
            path,
            "has an unknown suffix: drop a whole message as NAME.eml or a job file as NAME.job",
        )),
    }
}

/// Why a drop cannot be opened; for a file vmaild may not read, with its
/// owner and mode, so that the administrator sees at once whose file it is
/// and what to change.
fn open_reason(path: &Path, why: &OpenError) -> String {
    let denied = match why {
        OpenError::Unreadable(err) | OpenError::Unopenable(err) => {
            err.kind() == io::ErrorKind::PermissionDenied
        }
        _ => false,
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if denied => format!(
            "{why} ({}): let vmaild's user read it (for example `chmod g+r` with the spool's group), then `vfxadmin quarantine requeue`",
            crate::quarantine::owner_and_mode(&meta)
        ),
        _ => why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_open_itself_refuses_a_link_on_the_way_even_without_the_checks() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("in");
        fs::create_dir_all(base.join("real")).unwrap();
        fs::write(base.join("real/a.pdf"), b"pdf").unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("linked")).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("outside")).unwrap();
        std::os::unix::fs::symlink(base.join("real/a.pdf"), base.join("b.pdf")).unwrap();

        let (mut file, _) = open_beneath(&base, Path::new("real/a.pdf")).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, b"pdf");
        for (name, why) in [
            ("linked/a.pdf", "symbolic link"),
            ("outside/passwd", "symbolic link"),
            ("b.pdf", "is a symbolic link; vmail does not follow links"),
        ] {
            let err = open_beneath(&base, Path::new(name)).unwrap_err();
            assert!(err.to_string().contains(why), "{name}: {err}");
        }
    }

    fn packed(path: &Path) -> String {
        let rules = DropRules {
            default_from: "fax@example.test",
            names: &LocalNames::default(),
            templates: None,
            fax_attach_as: vmail_core::AttachAs::Tiff,
            limit: 1 << 20,
        };
        let mut prepared = prepare(path, &rules).unwrap();
        let mut text = String::new();
        prepared.message.read_to_string(&mut text).unwrap();
        text.lines()
            .filter(|l| l.starts_with("Message-ID:") || l.starts_with("Date:"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_drop_queued_twice_across_a_crash_is_the_same_message() {
        let dir = tempfile::tempdir().unwrap();
        let eml = dir.path().join("a.eml");
        fs::write(&eml, "From: a@example.test\nTo: b@example.test\n\nhi\n").unwrap();
        let job = dir.path().join("b.job");
        fs::write(&job, "[job]\nto = b@example.test\nsubject = s\nbody = hi\n").unwrap();
        for path in [&eml, &job] {
            // Written long ago: the added Date must be the file's, not the
            // clock's (no sleeping for the clock to move).
            let long_ago = std::time::UNIX_EPOCH + Duration::from_secs(1_577_880_000);
            let file = fs::File::options().write(true).open(path).unwrap();
            file.set_times(fs::FileTimes::new().set_modified(long_ago))
                .unwrap();
            drop(file);
            let first = packed(path);
            assert!(first.contains("Message-ID: <"), "{first}");
            assert!(first.contains(" Jan 2020 12:00:00 +0000"), "{first}");
            // Picked up again (vmaild died before removing it): the same
            // Date and Message-ID.
            assert_eq!(packed(path), first, "{}", path.display());
        }
        // Another drop is another message.
        let other = dir.path().join("c.eml");
        fs::write(&other, "From: a@example.test\nTo: b@example.test\n\nhi\n").unwrap();
        assert_ne!(packed(&other), packed(&eml));
    }

    #[test]
    fn an_unreadable_drop_names_its_owner_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.eml");
        fs::write(&path, b"To: a@x\n\nhi\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let denied = OpenError::Unopenable(io::Error::from(io::ErrorKind::PermissionDenied));
        let reason = open_reason(&path, &denied);
        let uid = fs::metadata(&path).unwrap().uid();
        assert!(
            reason.starts_with("cannot be opened: permission denied (owner "),
            "{reason}"
        );
        assert!(
            reason.contains(&format!(" (uid {uid}), group ")),
            "{reason}"
        );
        assert!(
            reason.ends_with(", mode 0600): let vmaild's user read it (for example `chmod g+r` with the spool's group), then `vfxadmin quarantine requeue`"),
            "{reason}"
        );
        assert_eq!(
            open_reason(&path, &OpenError::NotRegular),
            "is not a regular file"
        );
    }

    #[test]
    fn a_fifo_is_refused_at_once_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe.pdf"))
            .status()
            .unwrap();
        assert!(made.success());
        let base = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        // Without O_NONBLOCK the open would wait for a writer for ever; the
        // thread lets the test fail instead of hanging.
        std::thread::spawn(move || {
            let _ = tx.send(open_beneath(&base, Path::new("pipe.pdf")).map(|_| ()));
        });
        let result = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(result.unwrap_err().to_string(), "is not a regular file");
    }
}
