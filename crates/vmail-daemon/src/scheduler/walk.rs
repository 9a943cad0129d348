//! A walk of `queue/`: reads each queued job's due time and hold flag and
//! feeds them to the scheduler's window in chunks, through a channel that
//! the scheduler reads only while the window has room. A walk of a million
//! jobs thus goes at the pace of the drain and holds a block of names, a
//! chunk in the channel and the window, never the whole queue.

use super::LoadedJob;
use tokio::sync::mpsc;
use tracing::warn;
use vmail_core::JobId;
use vmail_spool::Spool;

/// Names read from the directory before they are sorted and read: jobs
/// within a block go oldest first (a small queue, one block, goes in
/// submission order as before), and the directory's own order, which is
/// a hash order on ext4, decides between blocks.
const BLOCK: usize = 4_096;

/// What a walk sends the scheduler.
#[derive(Debug)]
pub enum Feed {
    /// The due time and hold flag of some queued jobs.
    Jobs(Vec<LoadedJob>),
    /// The walk is over: it met `seen` queued jobs.
    End { seen: usize },
}

/// Walks `queue/`, sending chunks of jobs, the first of `first_chunk` (so
/// that the first session opens at once) and doubling up to `chunk`. Stops
/// early when the scheduler is gone.
pub fn walk(spool: &Spool, feed: &mpsc::Sender<Feed>, (first_chunk, chunk): (usize, usize)) {
    let mut seen = 0;
    let mut size = first_chunk.max(1);
    let mut ids = match spool.queue_ids() {
        Ok(ids) => ids,
        Err(err) => {
            warn!("cannot list the queue: {err}");
            let _ = feed.blocking_send(Feed::End { seen });
            return;
        }
    };
    let mut block: Vec<JobId> = Vec::with_capacity(BLOCK);
    loop {
        block.clear();
        for id in ids.by_ref() {
            match id {
                Ok(id) => block.push(id),
                Err(err) => {
                    warn!("the walk of the queue stopped early: {err}");
                    break;
                }
            }
            if block.len() == BLOCK {
                break;
            }
        }
        if block.is_empty() {
            break;
        }
        block.sort_unstable();
        let mut rest = block.as_slice();
        while !rest.is_empty() {
            let (now, later) = rest.split_at(size.min(rest.len()));
            rest = later;
            size = (size * 2).min(chunk.max(1));
            let (jobs, _gone) = crate::pickup::load_states(spool, now);
            seen += jobs.len();
            if feed.blocking_send(Feed::Jobs(jobs)).is_err() {
                return;
            }
        }
        if block.len() < BLOCK {
            break;
        }
    }
    let _ = feed.blocking_send(Feed::End { seen });
}
