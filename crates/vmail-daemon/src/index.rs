//! The scheduler's picture of the queue: a bounded window of it. Owned by
//! the scheduler task alone, so it needs no lock. The spool on disk stays
//! the truth: the window holds at most `capacity` jobs, the earliest due
//! that a walk of `queue/` has found, and what does not fit is left on disk
//! for a later walk to find (see [`Offer::Left`]). Memory is then bounded
//! by the window, not by the queue: a million queued jobs cost what ten
//! thousand do.

use std::collections::{BTreeSet, HashMap};
use tokio::time::Instant;
use vmail_core::JobId;

/// How many jobs the scheduler keeps in memory by default: enough to keep
/// every session busy between two chunks of a walk, small enough to stay
/// a few megabytes (an entry costs some 200 bytes).
pub const WINDOW: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    due: Instant,
    held: bool,
    in_flight: bool,
}

/// What became of a job offered to a full window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The job is in the window.
    Kept,
    /// A job (this one, or a later one it displaced) stays on disk only;
    /// it falls due at `due`, by which time a walk must find it again.
    /// `None`: a held job, which only a release (a hint) brings back.
    Left { due: Option<Instant> },
}

/// Due times in order, so that both the earliest (to hand out) and the
/// latest (to leave on disk when the window is full) are at hand.
#[derive(Debug)]
pub struct QueueIndex {
    entries: HashMap<JobId, Entry>,
    /// The idle jobs that are not held, by due time then id (oldest first).
    due: BTreeSet<(Instant, JobId)>,
    /// The idle held jobs: the first to leave when room is needed.
    held: BTreeSet<JobId>,
    in_flight: usize,
    capacity: usize,
}

impl Default for QueueIndex {
    fn default() -> Self {
        QueueIndex::with_capacity(WINDOW)
    }
}

impl QueueIndex {
    /// A window of at most `capacity` jobs (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        QueueIndex {
            entries: HashMap::new(),
            due: BTreeSet::new(),
            held: BTreeSet::new(),
            in_flight: 0,
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn is_in_flight(&self, id: &JobId) -> bool {
        self.entries.get(id).is_some_and(|e| e.in_flight)
    }

    pub fn contains(&self, id: &JobId) -> bool {
        self.entries.contains_key(id)
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// Whether a chunk of up to `chunk` jobs read from the disk should be
    /// taken at `now`: there is room for all of it, or the window holds a
    /// job that is held or not due yet, which one due earlier would
    /// displace. A window nearly full of due jobs takes nothing more until
    /// sessions have settled a chunk's worth: that is what holds a walk of
    /// the disk back while a backlog drains, without leaving any job of a
    /// chunk on disk to be read again.
    pub fn has_room(&self, now: Instant, chunk: usize) -> bool {
        self.entries.len() + chunk <= self.capacity
            || !self.held.is_empty()
            || self.due.last().is_some_and(|(due, _)| *due > now)
    }

    /// Adds a job, or updates one that is not out with a worker (a walk or
    /// `vfxadmin queue retry` may change its due time or hold flag). When
    /// the window is full, the latest job (held first) stays on disk.
    pub fn upsert(&mut self, id: JobId, due: Instant, held: bool) -> Offer {
        if let Some(entry) = self.entries.get_mut(&id) {
            if entry.in_flight {
                return Offer::Kept;
            }
            if entry.held {
                self.held.remove(&id);
            } else {
                self.due.remove(&(entry.due, id.clone()));
            }
            entry.due = due;
            entry.held = held;
            self.file_idle(id, due, held);
            return Offer::Kept;
        }
        let mut left = Offer::Kept;
        if self.is_full() {
            match self.latest_idle() {
                Some((victim, victim_due)) if displaces((due, held, &id), victim_due, &victim) => {
                    self.remove(&victim);
                    left = Offer::Left { due: victim_due };
                }
                _ => {
                    return Offer::Left {
                        due: (!held).then_some(due),
                    };
                }
            }
        }
        self.entries.insert(
            id.clone(),
            Entry {
                due,
                held,
                in_flight: false,
            },
        );
        self.file_idle(id, due, held);
        left
    }

    fn file_idle(&mut self, id: JobId, due: Instant, held: bool) {
        if held {
            self.held.insert(id);
        } else {
            self.due.insert((due, id));
        }
    }

    /// The idle job that leaves first when room is needed: any held one,
    /// else the one due last; with its due time (`None`: held).
    fn latest_idle(&self) -> Option<(JobId, Option<Instant>)> {
        if let Some(id) = self.held.first() {
            return Some((id.clone(), None));
        }
        self.due.last().map(|(due, id)| (id.clone(), Some(*due)))
    }

    /// Forgets a job: delivered, failed, deleted, or gone from the disk.
    pub fn remove(&mut self, id: &JobId) {
        if let Some(entry) = self.entries.remove(id) {
            if entry.in_flight {
                self.in_flight -= 1;
            } else if entry.held {
                self.held.remove(id);
            } else {
                self.due.remove(&(entry.due, id.clone()));
            }
        }
    }

    /// A worker finished a job that must be tried again at `due`.
    pub fn reschedule(&mut self, id: &JobId, due: Instant) {
        if let Some(entry) = self.entries.get_mut(id)
            && entry.in_flight
        {
            entry.in_flight = false;
            entry.due = due;
            let held = entry.held;
            self.in_flight -= 1;
            self.file_idle(id.clone(), due, held);
        }
    }

    /// The earliest due time of a job that could be handed out.
    pub fn next_due(&mut self) -> Option<Instant> {
        self.due.first().map(|(due, _)| *due)
    }

    /// Takes up to `max` jobs due at `now`, marking them in flight.
    pub fn take_due(&mut self, now: Instant, max: usize) -> Vec<JobId> {
        let mut taken = Vec::new();
        while taken.len() < max {
            match self.due.first() {
                Some((due, _)) if *due <= now => {}
                _ => break,
            }
            if let Some((_, id)) = self.due.pop_first() {
                if let Some(entry) = self.entries.get_mut(&id) {
                    entry.in_flight = true;
                    self.in_flight += 1;
                }
                taken.push(id);
            }
        }
        taken
    }
}

/// Whether an offered job (`due`, held, id) comes before the window's
/// latest idle job, so that it takes that one's place. Held jobs come last.
fn displaces(
    (due, held, id): (Instant, bool, &JobId),
    victim_due: Option<Instant>,
    victim: &JobId,
) -> bool {
    match (held, victim_due) {
        (true, _) => false,
        (false, None) => true,
        (false, Some(victim_due)) => (due, id) < (victim_due, victim),
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

    #[test]
    fn a_full_window_leaves_the_latest_job_on_disk_and_says_when_it_is_due() {
        let now = Instant::now();
        let at = |s| now + Duration::from_secs(s);
        let mut index = QueueIndex::with_capacity(2);
        assert_eq!(index.upsert(id(1), at(10), false), Offer::Kept);
        assert_eq!(index.upsert(id(2), at(30), false), Offer::Kept);
        // Earlier than the latest: displaces it.
        assert_eq!(
            index.upsert(id(3), at(20), false),
            Offer::Left { due: Some(at(30)) }
        );
        // Later than every job in the window: stays on disk itself.
        assert_eq!(
            index.upsert(id(4), at(40), false),
            Offer::Left { due: Some(at(40)) }
        );
        assert!(!index.contains(&id(2)) && !index.contains(&id(4)));
        assert_eq!(index.take_due(at(60), 10), vec![id(1), id(3)]);
    }

    #[test]
    fn held_jobs_leave_first_and_are_never_due() {
        let now = Instant::now();
        let mut index = QueueIndex::with_capacity(2);
        index.upsert(id(1), now, true);
        index.upsert(id(2), now, false);
        assert_eq!(index.upsert(id(3), now, false), Offer::Left { due: None });
        assert!(!index.contains(&id(1)));
        assert_eq!(index.upsert(id(4), now, true), Offer::Left { due: None });
    }

    #[test]
    fn room_is_made_only_by_jobs_not_due_yet() {
        let now = Instant::now();
        let mut index = QueueIndex::with_capacity(3);
        assert!(index.has_room(now, 3));
        index.upsert(id(1), now, false);
        assert!(!index.has_room(now, 3), "a whole chunk must fit");
        assert!(index.has_room(now, 2));
        index.upsert(id(2), now + Duration::from_secs(5), false);
        assert!(
            index.has_room(now, 3),
            "job 2 is not due: a due job may displace it"
        );
        assert!(!index.has_room(now + Duration::from_secs(5), 2));
        // In flight still counts: the window bounds what is in memory.
        index.take_due(now + Duration::from_secs(5), 10);
        assert!(!index.has_room(now + Duration::from_secs(5), 2));
        index.remove(&id(1));
        assert!(index.has_room(now, 2));
        assert_eq!(index.in_flight(), 1);
    }
}
