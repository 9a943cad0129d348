//! Reading and changing queued jobs: what the scheduler and
//! `vfxadmin queue` use.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use vmail_core::{Envelope, JobId};

use crate::entry;
use crate::error::{Corrupt, SpoolError};
use crate::fsutil;
use crate::spool::{Spool, list_names};
use crate::state::{AdminAction, JobState};

/// A job in `queue/`, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    pub id: JobId,
    pub envelope: Envelope,
    /// The state record, or a fresh state (dated by the message file) when
    /// the job has never been tried.
    pub state: JobState,
    /// The message file (envelope header + message).
    pub message_path: PathBuf,
    /// Size of the RFC 5322 message in bytes (without the envelope header).
    pub size: u64,
    /// Where the message starts in the file, after the envelope header.
    pub body_offset: u64,
    /// The submitter's first log line, stamped, for the log's first attempt.
    pub note: Option<String>,
}

/// The RFC 5322 message of a queued job, positioned after the envelope
/// header, for the submitter to stream.
#[derive(Debug)]
pub struct MessageReader {
    inner: BufReader<File>,
    len: u64,
}

impl MessageReader {
    /// Bytes of message to come from the start.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Read for MessageReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for MessageReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt)
    }
}

/// The lock on one queued job, held by whoever reads its state record to
/// write it again: `vfxadmin queue` for a hold, release, retry or delete,
/// and the daemon's worker while it settles an attempt. Nobody then writes
/// from a record that another has changed since. Dropping it unlocks.
///
/// It is an advisory lock (`flock`) on the message file, which every
/// writer opens anyway and which is never rewritten; the lock follows the
/// file into `sent/` or `failed/`, and [`Spool::lock_job`] checks after
/// waiting that the queue still holds the file it locked.
#[derive(Debug)]
pub struct JobLock {
    file: File,
}

/// Unlocks explicitly: the lock belongs to the open file description,
/// which other duplicates of the file (the deliverer's) may keep open
/// after this one is closed.
impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The ids in `queue/`, streamed from the directory: see
/// [`Spool::queue_ids`]. State records and names that are not job ids
/// (temp files of other tools) are skipped.
#[derive(Debug)]
pub struct QueueIds {
    dir: PathBuf,
    entries: fs::ReadDir,
}

impl Iterator for QueueIds {
    type Item = Result<JobId, SpoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let entry = match self.entries.next()? {
                Ok(entry) => entry,
                Err(err) => return Some(Err(SpoolError::io("read directory", &self.dir)(err))),
            };
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(|name| JobId::parse(name).ok()) {
                return Some(Ok(id));
            }
        }
    }
}

/// Where a finished job goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    Sent,
    Failed,
}

impl Spool {
    /// The ids of the queued jobs, sorted (that is, by submission time).
    /// Cheap: reads one directory, opens no file; but holds every id, so a
    /// caller facing a large queue walks [`Spool::queue_ids`] instead.
    pub fn ids(&self) -> Result<Vec<JobId>, SpoolError> {
        let mut ids = self.queue_ids()?.collect::<Result<Vec<_>, _>>()?;
        ids.sort();
        Ok(ids)
    }

    /// The ids of the queued jobs in directory order (not sorted), read
    /// from the directory as the iterator is advanced: walking a million
    /// jobs holds one name at a time. A job queued or removed during the
    /// walk may or may not be seen (readdir(3)); every other job is seen
    /// once.
    pub fn queue_ids(&self) -> Result<QueueIds, SpoolError> {
        let dir = self.queue_dir();
        let entries = fs::read_dir(&dir).map_err(SpoolError::io("read directory", &dir))?;
        Ok(QueueIds { dir, entries })
    }

    /// How many jobs are queued, counted without holding their ids.
    pub fn count_queued(&self) -> Result<usize, SpoolError> {
        let mut count = 0;
        for id in self.queue_ids()? {
            id?;
            count += 1;
        }
        Ok(count)
    }

    /// Every queued job, oldest first. A bad entry is a [`Corrupt`] value
    /// and the others still come; a bad state record never removes the
    /// message (see [`Spool::quarantine_state`]).
    pub fn jobs(
        &self,
    ) -> Result<impl Iterator<Item = Result<QueuedJob, Corrupt>> + '_, SpoolError> {
        let ids = self.ids()?;
        Ok(ids.into_iter().filter_map(move |id| match self.load(&id) {
            Ok(job) => Some(Ok(job)),
            Err(SpoolError::Corrupt(corrupt)) => Some(Err(corrupt)),
            // Gone since the listing (sent, deleted): not an error.
            Err(SpoolError::UnknownJob { .. }) => None,
            Err(other) => Some(Err(Corrupt::new(
                &self.message_path(&id),
                other.to_string(),
            )
            .of_job(&id))),
        }))
    }

    /// One queued job. An unknown id is [`SpoolError::UnknownJob`].
    pub fn load(&self, id: &JobId) -> Result<QueuedJob, SpoolError> {
        self.load_open(id).map(|(job, _)| job)
    }

    /// [`Spool::load`], and the message file it opened, for an attempt that
    /// streams the message and locks the job through that one open file
    /// instead of opening it again for each.
    pub fn load_open(&self, id: &JobId) -> Result<(QueuedJob, File), SpoolError> {
        let message_path = self.message_path(id);
        let (reader, header) = self.open_entry(id)?;
        let file_len = reader
            .get_ref()
            .metadata()
            .map_err(SpoolError::io("inspect", &message_path))?;
        let state = self.read_state(id, file_len.modified().unwrap_or(SystemTime::UNIX_EPOCH))?;
        let job = QueuedJob {
            id: id.clone(),
            envelope: header.envelope,
            state,
            size: file_len.len().saturating_sub(header.len),
            body_offset: header.len,
            message_path,
            note: header.note,
        };
        Ok((job, reader.into_inner()))
    }

    /// The message of a queued job, after its envelope header.
    pub fn open_message(&self, id: &JobId) -> Result<MessageReader, SpoolError> {
        let (mut inner, header) = self.open_entry(id)?;
        let header_len = header.len;
        let path = self.message_path(id);
        let total = inner
            .get_ref()
            .metadata()
            .map_err(SpoolError::io("inspect", &path))?
            .len();
        // The BufReader has read ahead; put the file where the message starts.
        inner
            .seek(SeekFrom::Start(header_len))
            .map_err(SpoolError::io("read", &path))?;
        Ok(MessageReader {
            inner,
            len: total.saturating_sub(header_len),
        })
    }

    fn open_entry(&self, id: &JobId) -> Result<(BufReader<File>, entry::Header), SpoolError> {
        let path = self.message_path(id);
        let file = File::open(&path).map_err(|err| self.not_found_or(id, &path, err))?;
        let mut reader = BufReader::with_capacity(8 * 1024, file);
        let header = entry::read_header(&mut reader)
            .map_err(|why| Corrupt::new(&path, format!("bad queue entry: {why}")).of_job(id))?;
        Ok((reader, header))
    }

    fn not_found_or(&self, id: &JobId, path: &Path, err: io::Error) -> SpoolError {
        match err.kind() {
            io::ErrorKind::NotFound => SpoolError::UnknownJob {
                id: id.clone(),
                spool: self.root().to_path_buf(),
            },
            _ => SpoolError::io("open", path)(err),
        }
    }

    fn read_state(&self, id: &JobId, queued_at: SystemTime) -> Result<JobState, SpoolError> {
        let path = self.state_path(id);
        match fs::read(&path) {
            Ok(bytes) => JobState::read_bytes(bytes).map_err(|why| {
                let reason = format!("bad state record ({why}); the message is kept");
                SpoolError::Corrupt(Corrupt::new(&path, reason).of_job(id))
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(JobState::fresh(queued_at)),
            Err(err) => Err(SpoolError::io("read", &path)(err)),
        }
    }

    /// The state of a queued job (a fresh one if it was never tried).
    pub fn state(&self, id: &JobId) -> Result<JobState, SpoolError> {
        let path = self.message_path(id);
        let meta = fs::metadata(&path).map_err(|err| self.not_found_or(id, &path, err))?;
        self.read_state(id, meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
    }

    /// Locks one queued job (waits while another holder settles it). A job
    /// deleted, sent or failed meanwhile is [`SpoolError::UnknownJob`].
    pub fn lock_job(&self, id: &JobId) -> Result<JobLock, SpoolError> {
        let path = self.message_path(id);
        let file = File::open(&path).map_err(|err| self.not_found_or(id, &path, err))?;
        self.lock_opened(id, file)
    }

    /// [`Spool::lock_job`] through a message file already open (from
    /// [`Spool::load_open`]; a duplicate of it is enough).
    pub fn lock_opened(&self, id: &JobId, file: File) -> Result<JobLock, SpoolError> {
        use std::os::unix::fs::MetadataExt;
        let path = self.message_path(id);
        file.lock().map_err(SpoolError::io("lock", &path))?;
        // Held from here, so every early return below unlocks.
        let lock = JobLock { file };
        let locked = lock
            .file
            .metadata()
            .map_err(SpoolError::io("inspect", &path))?;
        let current =
            fs::symlink_metadata(&path).map_err(|err| self.not_found_or(id, &path, err))?;
        if (locked.dev(), locked.ino()) != (current.dev(), current.ino()) {
            return Err(SpoolError::UnknownJob {
                id: id.clone(),
                spool: self.root().to_path_buf(),
            });
        }
        Ok(lock)
    }

    /// Rewrites a job's state record atomically (temp, fsync, rename,
    /// fsync): a reader sees the old record or the new one, never a part.
    pub fn record_attempt(&self, id: &JobId, state: &JobState) -> Result<(), SpoolError> {
        self.ensure_queued(id)?;
        let temp = self.temp_path(&format!("{id}.state"));
        fsutil::write_atomic(&temp, &self.state_path(id), state.to_text().as_bytes())
    }

    fn ensure_queued(&self, id: &JobId) -> Result<(), SpoolError> {
        let path = self.message_path(id);
        fs::symlink_metadata(&path)
            .map(|_| ())
            .map_err(|err| self.not_found_or(id, &path, err))
    }

    /// Moves a delivered job (message, then state) to `sent/`.
    pub fn finish_sent(&self, id: &JobId) -> Result<PathBuf, SpoolError> {
        let dest = self.finish(id, Finish::Sent)?;
        self.sync_finished()?;
        Ok(dest)
    }

    /// Moves a job that failed for good (message, then state) to `failed/`.
    pub fn finish_failed(&self, id: &JobId) -> Result<PathBuf, SpoolError> {
        let dest = self.finish(id, Finish::Failed)?;
        self.sync_finished()?;
        Ok(dest)
    }

    /// [`Spool::finish_sent`] without syncing the folders, for a worker that
    /// settles a whole batch and then calls [`Spool::sync_finished`] once:
    /// two folder fsyncs per batch instead of per job. Until that sync a
    /// crash can only put the job back into `queue/`, to be sent again;
    /// nothing is lost, and the rename is still the decision.
    pub fn finish_sent_unsynced(&self, id: &JobId) -> Result<PathBuf, SpoolError> {
        self.finish(id, Finish::Sent)
    }

    /// [`Spool::finish_failed`] without syncing the folders; see
    /// [`Spool::finish_sent_unsynced`].
    pub fn finish_failed_unsynced(&self, id: &JobId) -> Result<PathBuf, SpoolError> {
        self.finish(id, Finish::Failed)
    }

    /// Makes the moves of finished jobs durable: `sent/`, `failed/`, then
    /// `queue/` (the job leaves the queue only after it is in its new home).
    pub fn sync_finished(&self) -> Result<(), SpoolError> {
        fsutil::sync_dir(&self.sent_dir())?;
        fsutil::sync_dir(&self.failed_dir())?;
        fsutil::sync_dir(&self.queue_dir())
    }

    /// Renames the message first: that rename is the decision. A crash
    /// before the state follows leaves an orphan state that
    /// [`Spool::recover`] moves after its message. The folders are synced
    /// by the caller.
    fn finish(&self, id: &JobId, to: Finish) -> Result<PathBuf, SpoolError> {
        let dir = match to {
            Finish::Sent => self.sent_dir(),
            Finish::Failed => self.failed_dir(),
        };
        let from = self.message_path(id);
        let dest = dir.join(id.as_str());
        fs::rename(&from, &dest).map_err(|err| self.not_found_or(id, &from, err))?;
        let state = self.state_path(id);
        if state.exists() {
            fsutil::rename(&state, &dir.join(format!("{id}.state")))?;
        }
        Ok(dest)
    }

    /// Holds a job: the scheduler leaves it alone until released.
    pub fn hold(&self, id: &JobId) -> Result<JobState, SpoolError> {
        self.admin_action(id, AdminAction::Hold)
    }

    /// Releases a held job.
    pub fn release(&self, id: &JobId) -> Result<JobState, SpoolError> {
        self.admin_action(id, AdminAction::Release)
    }

    /// Makes a job due now (and releases it).
    pub fn retry_now(&self, id: &JobId) -> Result<JobState, SpoolError> {
        self.admin_action(id, AdminAction::Retry)
    }

    /// An administrator's change, under the job's lock, so that a worker
    /// settling the job waits for it and then reads it.
    fn admin_action(&self, id: &JobId, action: AdminAction) -> Result<JobState, SpoolError> {
        let _lock = self.lock_job(id)?;
        let state = self.state(id)?.with_admin_action(action);
        self.record_attempt(id, &state)?;
        Ok(state)
    }

    /// Removes a queued job (message, then state), under its lock. Its log
    /// stays.
    pub fn delete(&self, id: &JobId) -> Result<(), SpoolError> {
        let _lock = self.lock_job(id)?;
        let path = self.message_path(id);
        fs::remove_file(&path).map_err(|err| self.not_found_or(id, &path, err))?;
        fsutil::remove_if_present(&self.state_path(id))?;
        fsutil::sync_dir(&self.queue_dir())
    }

    /// Sets a corrupt queue entry (from [`Spool::jobs`] or [`Spool::load`])
    /// aside in `quarantine/`, with its reason beside it. A bad state record
    /// goes alone, and the job is tried again as a fresh one; a bad message
    /// file goes with its state, since it cannot be delivered.
    pub fn set_aside(&self, corrupt: &Corrupt) -> Result<Corrupt, SpoolError> {
        let moved = self.quarantine(corrupt.clone())?;
        if let Some(id) = &corrupt.id {
            let state = self.state_path(id);
            if corrupt.path == self.message_path(id) && state.exists() {
                let dest = self.quarantine_dir().join(format!("{id}.state"));
                fsutil::rename(&state, &dest)?;
                fsutil::sync_dir(&self.quarantine_dir())?;
            }
        }
        fsutil::sync_dir(&self.queue_dir())?;
        Ok(moved)
    }

    /// Moves a job's unreadable state record to `quarantine/`, so the job
    /// is tried again as a fresh one; returns where the record went.
    pub fn quarantine_state(&self, id: &JobId) -> Result<PathBuf, SpoolError> {
        let dest = self.quarantine_dir().join(format!("{id}.state"));
        fsutil::rename(&self.state_path(id), &dest)?;
        fsutil::sync_dir(&self.quarantine_dir())?;
        Ok(dest)
    }

    /// Removes jobs from `sent/` (and their logs) whose message is older
    /// than `older_than`. Returns how many.
    pub fn purge_sent(&self, older_than: Duration) -> Result<usize, SpoolError> {
        let sent = self.sent_dir();
        let cutoff = SystemTime::now().checked_sub(older_than);
        let mut purged = 0;
        for name in list_names(&sent)? {
            let Ok(id) = JobId::parse(&name) else {
                continue;
            };
            let path = sent.join(&name);
            let Ok(modified) = fs::symlink_metadata(&path).and_then(|m| m.modified()) else {
                continue;
            };
            if cutoff.is_some_and(|cutoff| modified <= cutoff) {
                fsutil::remove_if_present(&path)?;
                fsutil::remove_if_present(&sent.join(format!("{id}.state")))?;
                fsutil::remove_if_present(&self.log_path(&id))?;
                purged += 1;
            }
        }
        Ok(purged)
    }
}
