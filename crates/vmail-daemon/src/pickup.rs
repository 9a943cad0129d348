//! Disk work the scheduler hands to blocking threads: queueing the drops in
//! `in/`, and reading when queued jobs are due.

use crate::scheduler::LoadedJob;
use tracing::{info, warn};
use vmail_core::JobId;
use vmail_spool::{DropRules, IngestError, Spool, SpoolError};

/// Queues every drop in `in/` in group commits, the first of `first_chunk`
/// drops and the others of `chunk`, and hands each commit's jobs to
/// `committed` as soon as they are durable, so delivery starts while a
/// large pickup goes on. Each job's entry notes the file it came from, for
/// the first line of its log. Bad files are quarantined by the spool; each
/// gets one log line naming it and the reason. Returns how many drops stay
/// in `in/` because the spool failed (disk full, permissions): those are
/// tried again.
pub fn ingest_drops(
    spool: &Spool,
    rules: &DropRules<'_>,
    (first_chunk, chunk): (usize, usize),
    mut committed: impl FnMut(Vec<JobId>),
) -> usize {
    let drops = match spool.drops() {
        Ok(drops) => drops,
        Err(err) => {
            warn!("cannot read the drop folder: {err}");
            return 1;
        }
    };
    let mut picked = 0;
    let mut left = 0;
    let mut rest = drops.as_slice();
    let mut size = first_chunk.max(1);
    while !rest.is_empty() {
        let (paths, later) = rest.split_at(size.min(rest.len()));
        rest = later;
        size = chunk.max(1);
        let results = spool.ingest_many_with(paths, rules);
        let mut ids = Vec::with_capacity(paths.len());
        for (path, result) in paths.iter().zip(results) {
            match result {
                Ok(id) => ids.push(id),
                Err(IngestError::Quarantined(corrupt)) => warn!("quarantined: {corrupt}"),
                Err(IngestError::Spool(err)) => {
                    warn!("cannot queue {}, leaving it in in/: {err}", path.display());
                    left += 1;
                }
            }
        }
        picked += ids.len();
        if !ids.is_empty() {
            committed(ids);
        }
    }
    if picked > 0 {
        info!("picked up {picked} job(s) from in/");
    }
    left
}

/// Queues the local users' submissions in `maildrop/` (written by
/// `vmail-postdrop`), one by one: each is untrusted input, checked by the
/// spool and quarantined with its reason when it fails. Returns how many
/// stay because the spool failed.
pub fn ingest_maildrop(spool: &Spool, limit: u64, mut committed: impl FnMut(Vec<JobId>)) -> usize {
    let files = match spool.maildrops() {
        Ok(files) => files,
        Err(err) => {
            warn!("cannot read the maildrop folder: {err}");
            return 1;
        }
    };
    let mut left = 0;
    for path in files {
        match spool.ingest_maildrop(&path, limit) {
            Ok((id, submitter)) => {
                info!(job = %id, "picked up from maildrop/, submitted by {submitter}");
                committed(vec![id]);
            }
            Err(IngestError::Quarantined(corrupt)) => warn!("quarantined: {corrupt}"),
            Err(IngestError::Spool(err)) => {
                warn!(
                    "cannot queue {}, leaving it in maildrop/: {err}",
                    path.display()
                );
                left += 1;
            }
        }
    }
    left
}

/// When each job is due and whether it is held; second, the ids of the
/// jobs that are gone from the queue. A job whose state cannot be read is
/// reported and set aside, and comes back as a fresh job, due now.
pub fn load_states(spool: &Spool, ids: &[JobId]) -> (Vec<LoadedJob>, Vec<JobId>) {
    let mut gone = Vec::new();
    let jobs = ids
        .iter()
        .filter_map(|id| match spool.state(id) {
            Ok(state) => Some(LoadedJob {
                id: id.clone(),
                due: state.next_due,
                held: state.held,
            }),
            Err(SpoolError::UnknownJob { .. }) => {
                gone.push(id.clone());
                None
            }
            Err(err) => {
                warn!(job = %id, "cannot read the job's state, setting it aside: {err}");
                if let Err(err) = spool.quarantine_state(id) {
                    warn!(job = %id, "cannot set the state aside: {err}");
                }
                // With its state set aside the job is fresh again: due now.
                Some(LoadedJob {
                    id: id.clone(),
                    due: None,
                    held: false,
                })
            }
        })
        .collect();
    (jobs, gone)
}
