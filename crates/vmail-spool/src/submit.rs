//! Putting jobs into the queue: one at a time ([`Spool::submit`]) or as a
//! group commit ([`Batch`]), where all the jobs of a batch share the wait
//! for the disk.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use chrono::Utc;
use vmail_core::{Envelope, JobId};

use crate::entry;
use crate::error::SpoolError;
use crate::fsutil;
use crate::spool::Spool;

/// Jobs written to `tmp/` and not yet in the queue. [`Batch::commit`] makes
/// them durable (an fsync per file, then one of the queue directory) and
/// puts them in the queue; dropping the batch uncommitted removes them.
/// Each pending job holds an open file: keep batches to a few hundred.
#[derive(Debug)]
pub struct Batch<'s> {
    spool: &'s Spool,
    pending: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    id: JobId,
    temp: PathBuf,
    file: File,
}

impl Spool {
    /// Queues one message and returns its id once it is on disk (fsynced).
    /// `message` is the RFC 5322 message, streamed; over `limit` bytes
    /// (`u64::MAX` for none) nothing is queued and the error gives both
    /// sizes. Works with or without a running daemon.
    pub fn submit(
        &self,
        envelope: &Envelope,
        message: impl Read,
        limit: u64,
    ) -> Result<JobId, SpoolError> {
        self.submit_noted(envelope, None, message, limit)
    }

    /// [`Spool::submit`] with the first line of the job's log (`submitted by
    /// ...`), kept in the queue entry and stamped now; vmaild copies it into
    /// the log at the first attempt. See the `N` line in `entry`.
    pub fn submit_noted(
        &self,
        envelope: &Envelope,
        note: Option<&str>,
        message: impl Read,
        limit: u64,
    ) -> Result<JobId, SpoolError> {
        let mut batch = self.batch();
        batch.add_noted(envelope, note, message, limit)?;
        let ids = batch.commit()?;
        ids.into_iter().next().ok_or(SpoolError::NothingCommitted)
    }

    /// Queues a message under a fixed id, once: when a job of that id is
    /// queued, sent or failed already, nothing is written and the answer is
    /// `false`. Failure notices and requeued recipients get ids derived
    /// from their job's ([`JobId::derived`]), so a worker killed between
    /// queueing one and recording its job cannot make a second.
    pub fn submit_once(
        &self,
        id: &JobId,
        envelope: &Envelope,
        message: impl Read,
    ) -> Result<bool, SpoolError> {
        let done = [self.sent_dir(), self.failed_dir()]
            .iter()
            .any(|dir| dir.join(id.as_str()).exists());
        if done || self.message_path(id).exists() {
            return Ok(false);
        }
        entry::check(envelope)?;
        let temp = self.temp_path(id.as_str());
        let file = fsutil::create_new(&temp)?;
        let written = write_job(&file, envelope, None, message, u64::MAX)
            .map_err(|err| err.at(&temp))
            .and_then(|()| file.sync_all().map_err(SpoolError::io("fsync", &temp)));
        if let Err(err) = written {
            let _ = fs::remove_file(&temp);
            return Err(err);
        }
        let linked = fs::hard_link(&temp, self.message_path(id));
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(err) => return Err(SpoolError::io("queue", &temp)(err)),
        }
        fsutil::sync_dir(&self.queue_dir())?;
        Ok(true)
    }

    /// Starts a group commit.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            spool: self,
            pending: Vec::new(),
        }
    }

    /// A new job id: the UTC time (so ids sort by submission) and 40 random bits.
    pub(crate) fn new_id(&self) -> Result<JobId, SpoolError> {
        let stamp = Utc::now().format("%Y%m%d-%H%M%S").to_string();
        Ok(JobId::from_parts(&stamp, vmail_core::unique::random_u64())?)
    }
}

impl Batch<'_> {
    /// Writes one job to `tmp/` (not yet durable, not yet queued).
    /// [`Batch::commit`] returns the ids, in the order of the `add`s.
    pub fn add(
        &mut self,
        envelope: &Envelope,
        message: impl Read,
        limit: u64,
    ) -> Result<(), SpoolError> {
        self.add_noted(envelope, None, message, limit)
    }

    /// [`Batch::add`] with a first line for the job's log, stamped now.
    pub fn add_noted(
        &mut self,
        envelope: &Envelope,
        note: Option<&str>,
        message: impl Read,
        limit: u64,
    ) -> Result<(), SpoolError> {
        entry::check(envelope)?;
        let id = self.spool.new_id()?;
        let temp = self.spool.temp_path(id.as_str());
        let file = fsutil::create_new(&temp)?;
        let note = note.map(|note| format!("{} {note}", crate::joblog::stamp_now()));
        match write_job(&file, envelope, note.as_deref(), message, limit) {
            Ok(()) => {
                self.pending.push(Pending { id, temp, file });
                Ok(())
            }
            Err(err) => {
                let _ = fs::remove_file(&temp);
                Err(err.at(&temp))
            }
        }
    }

    /// Jobs added and not yet committed.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Makes every job durable and moves it into the queue. Returns the ids
    /// in the order they were added. On an error, the jobs not yet linked
    /// into the queue are removed; the ones before stay queued.
    pub fn commit(mut self) -> Result<Vec<JobId>, SpoolError> {
        sync_all_parallel(&self.pending)?;
        let queue = self.spool.queue_dir();
        let mut ids = Vec::with_capacity(self.pending.len());
        for job in std::mem::take(&mut self.pending) {
            let id = self.spool.link_into_queue(&job.temp, job.id)?;
            ids.push(id);
        }
        fsutil::sync_dir(&queue)?;
        Ok(ids)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        for job in &self.pending {
            let _ = fs::remove_file(&job.temp);
        }
    }
}

impl Spool {
    /// Puts a complete temp file into the queue under `id` without ever
    /// replacing an existing job: `link(2)` fails if the name is taken (then
    /// a new id is drawn), and the temp name is removed after.
    fn link_into_queue(&self, temp: &std::path::Path, mut id: JobId) -> Result<JobId, SpoolError> {
        loop {
            let dest = self.message_path(&id);
            match fs::hard_link(temp, &dest) {
                Ok(()) => break,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => id = self.new_id()?,
                Err(err) => {
                    let _ = fs::remove_file(temp);
                    return Err(SpoolError::io("queue", temp)(err));
                }
            }
        }
        fsutil::remove_if_present(temp)?;
        Ok(id)
    }
}

/// fsyncs every pending file. On ext4 and xfs, fsyncs that wait at the
/// same time share one journal commit, so a few threads make a batch cost
/// about one disk flush instead of one per job.
fn sync_all_parallel(pending: &[Pending]) -> Result<(), SpoolError> {
    const THREADS: usize = 8;
    if pending.len() <= 1 {
        return pending.iter().try_for_each(sync_one);
    }
    let chunk = pending.len().div_ceil(THREADS);
    std::thread::scope(|scope| {
        let workers: Vec<_> = pending
            .chunks(chunk)
            .map(|jobs| scope.spawn(move || jobs.iter().try_for_each(sync_one)))
            .collect();
        workers.into_iter().try_for_each(|worker| {
            worker.join().unwrap_or_else(|_| {
                Err(SpoolError::Io {
                    action: "fsync",
                    path: PathBuf::from("tmp"),
                    source: io::Error::other("an fsync thread panicked"),
                })
            })
        })
    })
}

fn sync_one(job: &Pending) -> Result<(), SpoolError> {
    job.file
        .sync_all()
        .map_err(SpoolError::io("fsync", &job.temp))
}

/// Why writing a job failed, before the temp path is known to the error.
enum WriteError {
    Io(io::Error),
    TooLarge { size: u64, limit: u64 },
}

impl WriteError {
    fn at(self, temp: &std::path::Path) -> SpoolError {
        match self {
            WriteError::Io(err) => SpoolError::io("write", temp)(err),
            WriteError::TooLarge { size, limit } => SpoolError::TooLarge { size, limit },
        }
    }
}

fn write_job(
    file: &File,
    envelope: &Envelope,
    note: Option<&str>,
    mut message: impl Read,
    limit: u64,
) -> Result<(), WriteError> {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    entry::write_envelope(&mut out, envelope, note).map_err(WriteError::Io)?;
    let copied = io::copy(&mut (&mut message).take(limit.saturating_add(1)), &mut out)
        .map_err(WriteError::Io)?;
    if copied > limit {
        // Count the rest so the error can say how big the message was.
        let rest = io::copy(&mut message, &mut io::sink()).map_err(WriteError::Io)?;
        return Err(WriteError::TooLarge {
            size: copied + rest,
            limit,
        });
    }
    out.flush().map_err(WriteError::Io)
}
