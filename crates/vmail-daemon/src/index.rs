//! The scheduler's picture of the queue: which jobs exist, which are due,
//! which are out with a worker. Owned by the scheduler task alone, so it
//! needs no lock; the spool on disk stays the truth and this index is
//! rebuilt from it at start and on every rescan.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use tokio::time::Instant;
use vmail_core::JobId;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    due: Instant,
    held: bool,
    in_flight: bool,
}

/// Due times with lazy deletion: a heap item whose time no longer matches
/// its entry is stale and skipped when popped, so rescheduling is O(log n)
/// without searching the heap.
#[derive(Debug, Default)]
pub struct QueueIndex {
    entries: HashMap<JobId, Entry>,
    due: BinaryHeap<Reverse<(Instant, JobId)>>,
}

impl QueueIndex {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn in_flight(&self) -> usize {
        self.entries.values().filter(|e| e.in_flight).count()
    }

    pub fn is_in_flight(&self, id: &JobId) -> bool {
        self.entries.get(id).is_some_and(|e| e.in_flight)
    }

    pub fn contains(&self, id: &JobId) -> bool {
        self.entries.contains_key(id)
    }

    /// Adds a job, or updates one that is not out with a worker (a rescan or
    /// `vfxadmin queue retry` may change its due time or hold flag).
    pub fn upsert(&mut self, id: JobId, due: Instant, held: bool) {
        if let Some(entry) = self.entries.get_mut(&id) {
            if entry.in_flight {
                return;
            }
            let released = entry.held && !held;
            entry.held = held;
            if entry.due == due && !released {
                return;
            }
            entry.due = due;
        } else {
            self.entries.insert(
                id.clone(),
                Entry {
                    due,
                    held,
                    in_flight: false,
                },
            );
        }
        if !held {
            self.due.push(Reverse((due, id)));
        }
    }

    /// Forgets a job: delivered, failed, deleted, or gone from the disk.
    pub fn remove(&mut self, id: &JobId) {
        self.entries.remove(id);
    }

    /// A worker finished a job that must be tried again at `due`.
    pub fn reschedule(&mut self, id: &JobId, due: Instant) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.in_flight = false;
            entry.due = due;
            if !entry.held {
                self.due.push(Reverse((due, id.clone())));
            }
        }
    }

    /// The earliest due time of a job that could be handed out.
    pub fn next_due(&mut self) -> Option<Instant> {
        self.drop_stale();
        self.due.peek().map(|Reverse((due, _))| *due)
    }

    /// Takes up to `max` jobs due at `now`, marking them in flight.
    pub fn take_due(&mut self, now: Instant, max: usize) -> Vec<JobId> {
        let mut taken = Vec::new();
        while taken.len() < max {
            self.drop_stale();
            let Some(Reverse((due, _))) = self.due.peek() else {
                break;
            };
            if *due > now {
                break;
            }
            if let Some(Reverse((_, id))) = self.due.pop() {
                if let Some(entry) = self.entries.get_mut(&id) {
                    entry.in_flight = true;
                }
                taken.push(id);
            }
        }
        taken
    }

    /// Ids the index holds that are not out with a worker, for a rescan to
    /// compare with the disk.
    pub fn idle_ids(&self) -> Vec<JobId> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.in_flight)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse((due, id))) = self.due.peek() {
            let live = self
                .entries
                .get(id)
                .is_some_and(|e| !e.in_flight && !e.held && e.due == *due);
            if live {
                return;
            }
            self.due.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(n: u32) -> JobId {
        JobId::parse(&format!("job-{n}")).unwrap()
    }

    #[test]
    fn jobs_come_out_in_due_order_and_only_when_due() {
        let now = Instant::now();
        let mut index = QueueIndex::default();
        index.upsert(id(1), now + Duration::from_secs(30), false);
        index.upsert(id(2), now, false);
        index.upsert(id(3), now + Duration::from_secs(10), false);
        assert_eq!(index.take_due(now, 10), vec![id(2)]);
        assert_eq!(index.next_due(), Some(now + Duration::from_secs(10)));
        let later = now + Duration::from_secs(60);
        assert_eq!(index.take_due(later, 10), vec![id(3), id(1)]);
        assert_eq!(index.in_flight(), 3);
        assert_eq!(index.next_due(), None);
    }

    #[test]
    fn a_job_in_flight_is_not_handed_out_twice_nor_moved_by_a_rescan() {
        let now = Instant::now();
        let mut index = QueueIndex::default();
        index.upsert(id(1), now, false);
        assert_eq!(index.take_due(now, 10), vec![id(1)]);
        index.upsert(id(1), now, false);
        assert!(index.take_due(now, 10).is_empty());
        index.reschedule(&id(1), now + Duration::from_secs(5));
        assert!(index.take_due(now, 10).is_empty());
        assert_eq!(
            index.take_due(now + Duration::from_secs(5), 10),
            vec![id(1)]
        );
    }

    #[test]
    fn held_jobs_wait_and_released_jobs_return() {
        let now = Instant::now();
        let mut index = QueueIndex::default();
        index.upsert(id(1), now, true);
        assert!(index.take_due(now, 10).is_empty());
        index.upsert(id(1), now, false);
        assert_eq!(index.take_due(now, 10), vec![id(1)]);
    }

    #[test]
    fn rescheduling_earlier_replaces_the_old_due_time() {
        let now = Instant::now();
        let mut index = QueueIndex::default();
        index.upsert(id(1), now + Duration::from_secs(300), false);
        index.upsert(id(1), now, false);
        assert_eq!(index.take_due(now, 10), vec![id(1)]);
        assert!(
            index
                .take_due(now + Duration::from_secs(400), 10)
                .is_empty()
        );
    }

    #[test]
    fn removed_jobs_never_come_out() {
        let now = Instant::now();
        let mut index = QueueIndex::default();
        index.upsert(id(1), now, false);
        index.upsert(id(2), now, false);
        index.remove(&id(1));
        assert_eq!(index.take_due(now, 10), vec![id(2)]);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn take_due_respects_its_limit() {
        let now = Instant::now();
        let mut index = QueueIndex::default();
        for n in 0..10 {
            index.upsert(id(n), now, false);
        }
        assert_eq!(index.take_due(now, 4).len(), 4);
        assert_eq!(index.take_due(now, 100).len(), 6);
    }
}
