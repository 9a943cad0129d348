//! The scheduler: one task that owns the queue index and decides what runs
//! when. Everything reaches it as a message (a worker finished, the watcher
//! saw a file, a signal arrived, a disk scan came back), so no lock is ever
//! held across an `.await` and the order of decisions is the order of events.
//! Disk work (pickup, scans) runs on blocking threads and reports back.

use crate::deliver::Deliver;
use crate::index::{Offer, QueueIndex};
use crate::lifecycle::{Control, Systemd};
use crate::watcher::Hint;
use crate::worker::{BatchResult, Next, WorkerContext, run_batch};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, Interval, MissedTickBehavior, interval, interval_at, sleep_until};
use tracing::{debug, info, warn};
use vmail_config::Config;
use vmail_core::JobId;

mod walk;
use walk::Feed;

/// Scheduler decisions go to this target, switched on by `[VFXSCHED] debug`.
pub const SCHED_TARGET: &str = "vmaild::scheduler";

/// The most jobs one session carries before it hands back; keeps one slow
/// server from holding a large share of the queue in one worker.
pub(crate) const MAX_BATCH: usize = 50;
/// Drops queued per group commit: each is read whole, so this bounds the
/// memory a burst of drops takes, at one fsync per 64 jobs. The first
/// commit of a pass is small, so the first session opens at once.
const FIRST_INGEST_CHUNK: usize = 8;
const INGEST_CHUNK: usize = 64;
/// Jobs whose state is read per chunk of a walk of `queue/`: the first
/// chunk is small so the first sessions open within milliseconds of the
/// start, and each next one doubles up to `LOAD_CHUNK`.
const FIRST_LOAD_CHUNK: usize = 16;
const LOAD_CHUNK: usize = 512;
/// When a pickup pass left drops in `in/` because the spool failed (disk
/// full, permissions), the next pass comes this much later even if no new
/// file arrives: freeing space makes no event in `in/`. Doubled on each
/// pass that fails again, up to the slow rescan's minute.
/// The slow safety net's period: rescans of `in/` and `queue/`.
const RESCAN: Duration = Duration::from_secs(60);
const INGEST_RETRY: Duration = Duration::from_secs(5);
const INGEST_RETRY_MAX: Duration = Duration::from_secs(60);
/// What systemd is asked to wait beyond the drain's own deadline: time to
/// log, release the pid lock and exit after the last session is given up.
const DRAIN_NOTIFY_MARGIN: Duration = Duration::from_secs(10);

/// Everything the scheduler reacts to, one at a time, in the order it
/// happened: the watcher's hints, the signals, what its background work
/// found, its workers ending, and its timers. One exhaustive `match` in
/// in the scheduler decides what each means.
#[derive(Debug)]
pub enum SchedulerEvent {
    /// From the watcher: a drop in `in/`, a change in `queue/`, lost events.
    Hint(Hint),
    /// SIGHUP or SIGTERM.
    Control(Control),
    /// Jobs a pickup pass has queued so far (one group commit).
    Picked(Vec<JobId>),
    /// A pickup pass ended; `left` drops stayed in `in/` because the spool
    /// could not take them.
    PickupDone { left: usize },
    /// Jobs read again from `queue/` because their entry changed, and the
    /// ones found gone.
    Loaded {
        jobs: Vec<LoadedJob>,
        gone: Vec<JobId>,
    },
    /// From the walk of `queue/` under way (`None`: it ended abruptly).
    Walked(Option<Feed>),
    /// The jobs in `queue/` at start, counted.
    Counted(usize),
    /// A worker ended: its result, or the panic that ended it.
    WorkerDone(Result<(tokio::task::Id, BatchResult), JoinError>),
    /// A timer fired.
    Tick(Tick),
}

/// The scheduler's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// The earliest job is due (and a session is free to take it).
    Due,
    /// The pickup that the spool could not take earlier is due again.
    PickupRetry,
    /// The slow safety net: rescan `in/` and `queue/`, clean `sent/`.
    Rescan,
    /// A job left on disk (the window was full) falls due: walk `queue/`.
    Walk,
    /// systemd's watchdog and status line.
    Heartbeat,
}

/// A queued job as the index needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedJob {
    pub id: JobId,
    /// When it is due; `None`: now.
    pub due: Option<SystemTime>,
    pub held: bool,
}

/// A background pass (a pickup of `in/`, a refresh of entries): at most
/// one runs at a time, so a burst of events is one pass per round rather
/// than one thread per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Idle,
    Running,
    /// Asked for again while running: one more when this one ends.
    RunningThenAgain,
}

/// Builds the configuration and deliverer after SIGHUP; `None` when the
/// file is bad (it has already logged every error).
pub type Reloader<D> = Box<dyn FnMut() -> Option<(Arc<Config>, Arc<D>)> + Send>;

/// How the scheduler was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Until SIGTERM.
    Daemon,
    /// Deliver what is due, then stop (`vmaild --once`).
    Once,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Jobs still queued (deferred or held) when the scheduler stopped.
    pub remaining: usize,
}

pub struct Scheduler<D: Deliver> {
    ctx: WorkerContext<D>,
    index: QueueIndex,
    events_tx: mpsc::Sender<SchedulerEvent>,
    events_rx: mpsc::Receiver<SchedulerEvent>,
    hints: mpsc::Receiver<Hint>,
    control: mpsc::Receiver<Control>,
    reloader: Reloader<D>,
    systemd: Systemd,
    mode: Mode,
    /// The sessions out with jobs. The scheduler owns their tasks, so every
    /// job it hands out comes back to it on every path: a worker's result,
    /// or its panic (`JoinError`), after which its jobs are tried again.
    workers: JoinSet<BatchResult>,
    /// The jobs each running worker took, by task.
    batches: HashMap<tokio::task::Id, Vec<JobId>>,
    /// The walk of `queue/` under way, feeding the window (`index`).
    walk: Option<mpsc::Receiver<Feed>>,
    /// Walk again when this walk ends: a rescan was asked for meanwhile.
    walk_again: bool,
    /// The earliest due time of a job that the full window left on disk:
    /// a walk must have found it again by then.
    walk_by: Option<Instant>,
    /// Until the first walk has ended or filled the window, and the queue
    /// is counted, vmaild is not ready.
    first_walk_done: bool,
    counted: bool,
    /// Jobs in `queue/`: counted at start and by each walk, followed since.
    queued: usize,
    pickup: Pass,
    /// A pickup pass to run at this time: the last one hit a spool error.
    ingest_retry: Option<Instant>,
    ingest_retry_delay: Duration,
    /// Jobs to read again from the disk, at the next refresh.
    pending_loads: BTreeSet<JobId>,
    refresh: Pass,
    draining: Option<Instant>,
    last_status: String,
    rescan: Interval,
    heartbeat: Interval,
}

/// Everything the scheduler listens to.
pub struct Inputs {
    pub hints: mpsc::Receiver<Hint>,
    pub control: mpsc::Receiver<Control>,
}

impl<D: Deliver> Scheduler<D> {
    pub fn new(ctx: WorkerContext<D>, inputs: Inputs, reloader: Reloader<D>, mode: Mode) -> Self {
        let (events_tx, events_rx) = mpsc::channel(1024);
        let systemd = Systemd::from_env();
        let mut rescan = interval_at(Instant::now() + RESCAN, RESCAN);
        rescan.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let beat = systemd
            .watchdog_interval()
            .unwrap_or(Duration::from_secs(5));
        let mut heartbeat = interval(beat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Scheduler {
            ctx,
            index: QueueIndex::default(),
            events_tx,
            events_rx,
            hints: inputs.hints,
            control: inputs.control,
            reloader,
            systemd,
            mode,
            workers: JoinSet::new(),
            batches: HashMap::new(),
            walk: None,
            walk_again: false,
            walk_by: None,
            first_walk_done: false,
            counted: false,
            queued: 0,
            pickup: Pass::Idle,
            ingest_retry: None,
            ingest_retry_delay: INGEST_RETRY,
            pending_loads: BTreeSet::new(),
            refresh: Pass::Idle,
            draining: None,
            last_status: String::new(),
            rescan,
            heartbeat,
        }
    }

    /// Runs until SIGTERM (or, in `--once` mode, until nothing is due).
    pub async fn run(mut self) -> Exit {
        self.start_count();
        self.start_walk();
        self.start_ingest();
        let mut announced = false;
        loop {
            self.dispatch();
            if !announced && self.counted && (self.first_walk_done || self.index.is_full()) {
                announced = true;
                self.systemd.ready(&self.status_line());
                info!("ready: {}", self.status_line());
            }
            if self.finished(announced) {
                break;
            }
            let event = self.next_event().await;
            self.handle(event);
        }
        self.systemd.stopping();
        // The window may not hold every job: the disk says how many stay.
        let spool = Arc::clone(&self.ctx.spool);
        let remaining = tokio::task::spawn_blocking(move || spool.count_queued())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(self.queued);
        Exit { remaining }
    }

    /// Waits for whatever happens first.
    async fn next_event(&mut self) -> SchedulerEvent {
        let wake = self.next_wake();
        let retry = self.ingest_retry;
        // The walk is read only while the window has room: a full one holds
        // it back (see `QueueIndex::has_room`).
        let feed = self.walk.is_some() && self.index.has_room(Instant::now(), LOAD_CHUNK);
        let walk_at = self.walk.is_none().then_some(self.walk_by).flatten();
        tokio::select! {
            Some(event) = self.events_rx.recv() => event,
            fed = next_feed(&mut self.walk), if feed => SchedulerEvent::Walked(fed),
            () = sleep_until(walk_at.unwrap_or_else(far_future)), if walk_at.is_some() => {
                SchedulerEvent::Tick(Tick::Walk)
            }
            Some(joined) = self.workers.join_next_with_id(), if !self.workers.is_empty() => {
                SchedulerEvent::WorkerDone(joined)
            }
            Some(hint) = self.hints.recv() => SchedulerEvent::Hint(hint),
            Some(control) = self.control.recv() => SchedulerEvent::Control(control),
            () = sleep_until(wake.unwrap_or_else(far_future)), if wake.is_some() => {
                SchedulerEvent::Tick(Tick::Due)
            }
            () = sleep_until(retry.unwrap_or_else(far_future)), if retry.is_some() => {
                SchedulerEvent::Tick(Tick::PickupRetry)
            }
            _ = self.rescan.tick() => SchedulerEvent::Tick(Tick::Rescan),
            _ = self.heartbeat.tick() => SchedulerEvent::Tick(Tick::Heartbeat),
        }
    }

    /// What each event means; the loop hands out due jobs after every one.
    fn handle(&mut self, event: SchedulerEvent) {
        match event {
            SchedulerEvent::Hint(hint) => self.on_hint(hint),
            SchedulerEvent::Control(control) => self.on_control(control),
            SchedulerEvent::Picked(ids) => {
                self.queued += ids.len();
                for id in ids {
                    self.offer(id, Instant::now(), false);
                }
            }
            SchedulerEvent::PickupDone { left } => {
                let again = self.pickup == Pass::RunningThenAgain;
                self.pickup = Pass::Idle;
                self.schedule_ingest_retry(left);
                if again {
                    self.start_ingest();
                }
            }
            SchedulerEvent::Loaded { jobs, gone } => {
                self.refresh = Pass::Idle;
                for id in gone {
                    if !self.index.is_in_flight(&id) {
                        self.index.remove(&id);
                    }
                }
                self.offer_loaded(jobs);
                self.start_pending_loads();
            }
            SchedulerEvent::Walked(Some(Feed::Jobs(jobs))) => {
                // Only jobs the window does not know: one it holds is
                // already up to date (the workers and the hints keep it
                // so), and the disk's due time, to the second, would move
                // its exact one.
                let unknown = jobs.into_iter().filter(|job| !self.index.contains(&job.id));
                self.offer_loaded(unknown.collect());
            }
            SchedulerEvent::Walked(Some(Feed::End { seen })) => self.walk_ended(Some(seen)),
            SchedulerEvent::Walked(None) => self.walk_ended(None),
            SchedulerEvent::Counted(n) => {
                info!("{n} job(s) in the queue at start");
                self.queued = n;
                self.counted = true;
            }
            SchedulerEvent::WorkerDone(joined) => self.on_worker_joined(joined),
            SchedulerEvent::Tick(Tick::Due) => {} // the loop dispatches
            SchedulerEvent::Tick(Tick::PickupRetry) => {
                self.ingest_retry = None;
                self.start_ingest();
            }
            SchedulerEvent::Tick(Tick::Rescan) => {
                // The directories are the truth: a drop whose event was
                // lost, or that the spool could not take, is found here.
                self.start_ingest();
                self.start_walk();
                self.start_purge();
            }
            SchedulerEvent::Tick(Tick::Walk) => self.start_walk(),
            SchedulerEvent::Tick(Tick::Heartbeat) => self.on_heartbeat(),
        }
    }

    fn finished(&mut self, announced: bool) -> bool {
        if let Some(deadline) = self.draining {
            if self.workers.is_empty() {
                info!(
                    "stopped: every session has finished; {} job(s) stay queued",
                    self.queued
                );
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                warn!(
                    "stopping with {} session(s) still busy; their jobs stay queued and may be sent again",
                    self.workers.len()
                );
                return true;
            }
            // Renewed on every wake (at least every 5 s, see `next_wake`).
            self.systemd
                .extend_stop(deadline.duration_since(now) + DRAIN_NOTIFY_MARGIN);
            return false;
        }
        let now = Instant::now();
        let idle = self.workers.is_empty()
            && self.walk.is_none()
            && !self.walk_again
            && self.pickup == Pass::Idle
            && self.refresh == Pass::Idle;
        let nothing_due = self.index.next_due().is_none_or(|due| due > now)
            && self.walk_by.is_none_or(|due| due > now);
        self.mode == Mode::Once && announced && idle && nothing_due
    }

    /// The next moment the loop must wake by itself: a job falling due
    /// (only when a worker is free to take it), or the drain deadline.
    fn next_wake(&mut self) -> Option<Instant> {
        if let Some(deadline) = self.draining {
            return Some(deadline.min(Instant::now() + Duration::from_secs(5)));
        }
        if self.workers.len() >= self.ctx.config.max_connections.max(1) {
            return None;
        }
        self.index.next_due()
    }

    /// Hands due jobs to free workers, shared evenly between them. Only due
    /// jobs are counted: jobs waiting for a later retry must not make the
    /// batches so large that every due job lands in one session, which a
    /// hung server would then hold while the other connections stay idle.
    fn dispatch(&mut self) {
        if self.draining.is_some() {
            return;
        }
        let max_workers = self.ctx.config.max_connections.max(1);
        let free = max_workers.saturating_sub(self.workers.len());
        if free == 0 {
            return;
        }
        let due = self
            .index
            .take_due(Instant::now(), free.saturating_mul(MAX_BATCH));
        if due.is_empty() {
            return;
        }
        for ids in due.chunks(due.len().div_ceil(free)) {
            debug!(target: SCHED_TARGET, "session {} takes {} job(s), the first {}", self.workers.len() + 1, ids.len(), ids[0]);
            let task = self
                .workers
                .spawn(run_batch(self.ctx.clone(), ids.to_vec()));
            self.batches.insert(task.id(), ids.to_vec());
        }
    }

    /// A worker ended, with its result or with a panic. Every job it took
    /// and did not report on (all of them, after a panic) is tried again
    /// after `retry-min`: it may have been sent, so not at once, and not
    /// never, which a job left marked in flight would be.
    fn on_worker_joined(&mut self, joined: Result<(tokio::task::Id, BatchResult), JoinError>) {
        let (task, result) = match joined {
            Ok((task, result)) => (task, result),
            Err(err) => {
                warn!(
                    "a session's worker {}: its job(s) will be tried again",
                    panic_text(&err)
                );
                (err.id(), BatchResult::default())
            }
        };
        let taken = self.batches.remove(&task).unwrap_or_default();
        let reported: BTreeSet<&JobId> = result.finished.iter().map(|(id, _)| id).collect();
        let lost: Vec<JobId> = taken
            .into_iter()
            .filter(|id| !reported.contains(id))
            .collect();
        if !lost.is_empty() {
            let again = Instant::now() + self.ctx.config.retry.min;
            warn!(
                "{} job(s) of that session were not settled ({}); next attempt in {}s",
                lost.len(),
                lost.iter()
                    .map(JobId::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                self.ctx.config.retry.min.as_secs()
            );
            // The next attempt reads each from the disk first: one settled
            // before the panic is found gone then, and forgotten.
            for id in &lost {
                self.index.reschedule(id, again);
            }
        }
        self.on_batch_done(result);
    }

    fn on_batch_done(&mut self, result: BatchResult) {
        for (id, next) in result.finished {
            debug!(target: SCHED_TARGET, "job {id}: {next}");
            match next {
                Next::Done => {
                    self.index.remove(&id);
                    self.queued = self.queued.saturating_sub(1);
                }
                Next::RetryAt(due) => self
                    .index
                    .reschedule(&id, self.ctx.clock.instant_at(Some(due))),
                Next::Held => {
                    self.index.remove(&id);
                    self.offer(id, Instant::now(), true);
                }
            }
        }
        for id in result.queued {
            self.pending_loads.insert(id);
        }
        self.start_pending_loads();
        if self.ctx.config.sent_retention.is_zero() {
            self.start_purge();
        }
    }

    /// Removes delivered jobs older than `[VFXSCHED] keep-sent` from sent/.
    fn start_purge(&self) {
        let spool = Arc::clone(&self.ctx.spool);
        let keep = self.ctx.config.sent_retention;
        tokio::task::spawn_blocking(move || match spool.purge_sent(keep) {
            Ok(0) => {}
            Ok(n) => {
                debug!(target: SCHED_TARGET, "removed {n} delivered job(s) older than keep-sent from sent/")
            }
            Err(err) => warn!("cannot clean sent/: {err}"),
        });
    }

    fn on_hint(&mut self, hint: Hint) {
        match hint {
            Hint::Drop => self.start_ingest(),
            Hint::QueueChanged(id) => {
                self.pending_loads.insert(id);
                self.start_pending_loads();
            }
            Hint::Rescan => {
                debug!(target: SCHED_TARGET, "watch events were lost (kernel queue overflow, or hints faster than the scheduler): rescanning in/ and queue/");
                self.start_ingest();
                self.start_walk();
            }
        }
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::Reload => self.reload(),
            Control::Shutdown if self.draining.is_none() => {
                let bound = self
                    .ctx
                    .config
                    .smtp()
                    .map_or(Duration::from_secs(30), |s| s.timeout * 2);
                info!(
                    "stopping: no new sessions; waiting up to {}s for {} busy session(s)",
                    bound.as_secs(),
                    self.workers.len()
                );
                self.systemd.stopping();
                self.systemd.extend_stop(bound + DRAIN_NOTIFY_MARGIN);
                self.draining = Some(Instant::now() + bound);
            }
            Control::Shutdown => info!("still stopping: {} session(s) busy", self.workers.len()),
        }
    }

    fn reload(&mut self) {
        self.systemd.reloading();
        match (self.reloader)() {
            Some((config, deliverer)) => {
                if config.spool != self.ctx.config.spool {
                    warn!(
                        "[VFXSCHED] spool changed to {}: a running vmaild keeps {}; restart it to move",
                        config.spool.display(),
                        self.ctx.config.spool.display()
                    );
                }
                info!(
                    "configuration reloaded from {}; delivering via {}",
                    config.path.display(),
                    deliverer.destination()
                );
                self.ctx.config = config;
                self.ctx.deliverer = deliverer;
            }
            None => warn!("configuration not reloaded: the running one stays in force"),
        }
        self.systemd.ready(&self.status_line());
    }

    fn on_heartbeat(&mut self) {
        self.systemd.alive();
        let status = self.status_line();
        if status != self.last_status {
            self.systemd.status(&status);
            self.last_status = status;
        }
    }

    fn status_line(&self) -> String {
        format!(
            "{} job(s) queued, {} session(s) busy",
            self.queued,
            self.workers.len()
        )
    }

    /// Queues every complete file in `in/`, in group commits, off the
    /// scheduler's thread. A hint that comes in meanwhile runs one more pass.
    fn start_ingest(&mut self) {
        if self.pickup != Pass::Idle {
            self.pickup = Pass::RunningThenAgain;
            return;
        }
        self.pickup = Pass::Running;
        let spool = Arc::clone(&self.ctx.spool);
        let from = self.ctx.config.from.clone();
        // Bare names in drops (cron's `root`): [VMAIL] admin-address and
        // local-domain, as for the shim and vfx.
        let names = vmail_message::LocalNames::new(
            self.ctx.config.admin_address.as_deref(),
            self.ctx.config.local_domain.as_deref(),
        );
        let limit = self.ctx.config.max_message_size;
        let fax_attach_as = self.ctx.config.fax_attach_as;
        // `.job` drops naming a template: templates/ beside the ini.
        let templates = vmail_message::Templates::beside(&self.ctx.config.path);
        let events = self.events_tx.clone();
        tokio::task::spawn_blocking(move || {
            let chunks = (FIRST_INGEST_CHUNK, INGEST_CHUNK);
            let rules = vmail_spool::DropRules {
                default_from: &from,
                names: &names,
                templates: Some(&templates),
                fax_attach_as,
                limit,
            };
            let mut left = crate::pickup::ingest_drops(&spool, &rules, chunks, |ids| {
                let _ = events.blocking_send(SchedulerEvent::Picked(ids));
            });
            // Local users' submissions (vmail-postdrop): untrusted, checked one by one.
            left += crate::pickup::ingest_maildrop(&spool, limit, |ids| {
                let _ = events.blocking_send(SchedulerEvent::Picked(ids));
            });
            let _ = events.blocking_send(SchedulerEvent::PickupDone { left });
        });
    }

    /// After a pickup pass: when the spool could not take `left` drops,
    /// try again later (5 s, doubling up to 60 s while it keeps failing).
    fn schedule_ingest_retry(&mut self, left: usize) {
        if left == 0 {
            self.ingest_retry_delay = INGEST_RETRY;
            return;
        }
        if self.ingest_retry.is_some() {
            return;
        }
        let delay = self.ingest_retry_delay;
        debug!(target: SCHED_TARGET, "{left} drop(s) stay in in/; next pickup in {}s", delay.as_secs());
        self.ingest_retry = Some(Instant::now() + delay);
        self.ingest_retry_delay = (delay * 2).min(INGEST_RETRY_MAX);
    }

    /// Walks `queue/` into the window, off the scheduler's thread; see
    /// [`walk::walk`]. Asked for while one runs: one more after it.
    fn start_walk(&mut self) {
        if self.walk.is_some() {
            self.walk_again = true;
            return;
        }
        self.walk_again = false;
        // This walk meets every job on disk, those left out before too.
        self.walk_by = None;
        let (feed, fed) = mpsc::channel(1);
        self.walk = Some(fed);
        let spool = Arc::clone(&self.ctx.spool);
        tokio::task::spawn_blocking(move || {
            walk::walk(&spool, &feed, (FIRST_LOAD_CHUNK, LOAD_CHUNK));
        });
    }

    fn walk_ended(&mut self, seen: Option<usize>) {
        self.walk = None;
        self.first_walk_done = true;
        if let Some(seen) = seen {
            debug!(target: SCHED_TARGET, "walked queue/: {seen} job(s), {} in memory", self.index.len());
            self.queued = seen;
        }
        if self.walk_again || self.walk_by.is_some_and(|due| due <= Instant::now()) {
            self.start_walk();
        }
    }

    /// Counts `queue/` at start, for the status line (the window does not
    /// say how many jobs the disk holds).
    fn start_count(&self) {
        let spool = Arc::clone(&self.ctx.spool);
        let events = self.events_tx.clone();
        tokio::task::spawn_blocking(move || {
            let n = spool.count_queued().unwrap_or_else(|err| {
                warn!("cannot count the queue: {err}");
                0
            });
            let _ = events.blocking_send(SchedulerEvent::Counted(n));
        });
    }

    fn offer_loaded(&mut self, jobs: Vec<LoadedJob>) {
        for job in jobs {
            let due = self.ctx.clock.instant_at(job.due);
            self.offer(job.id, due, job.held);
        }
    }

    /// Puts a job into the window; one that the full window leaves on disk
    /// is found again by a walk before it falls due.
    fn offer(&mut self, id: JobId, due: Instant, held: bool) {
        if let Offer::Left { due: Some(due) } = self.index.upsert(id, due, held) {
            self.walk_by = Some(self.walk_by.map_or(due, |by| by.min(due)));
        }
    }

    fn start_pending_loads(&mut self) {
        if self.pending_loads.is_empty() || self.refresh != Pass::Idle {
            return;
        }
        // A job out with a worker is read when the worker is done (its change
        // may be an administrator's, which the worker honours, and the disk
        // then says what became of it); until then its id waits here.
        let (in_flight, ids): (BTreeSet<JobId>, BTreeSet<JobId>) =
            std::mem::take(&mut self.pending_loads)
                .into_iter()
                .partition(|id| self.index.is_in_flight(id));
        self.pending_loads = in_flight;
        let ids: Vec<JobId> = ids.into_iter().collect();
        if ids.is_empty() {
            return;
        }
        self.refresh = Pass::Running;
        let spool = Arc::clone(&self.ctx.spool);
        let events = self.events_tx.clone();
        tokio::task::spawn_blocking(move || {
            let (jobs, gone) = crate::pickup::load_states(&spool, &ids);
            let _ = events.blocking_send(SchedulerEvent::Loaded { jobs, gone });
        });
    }
}

/// The next message of the walk under way; `None` when it ended without
/// saying so (its thread panicked).
async fn next_feed(walk: &mut Option<mpsc::Receiver<Feed>>) -> Option<Feed> {
    match walk {
        Some(fed) => fed.recv().await,
        None => std::future::pending().await,
    }
}

/// What a panicking worker said, for the daemon log.
fn panic_text(err: &JoinError) -> String {
    if !err.is_panic() {
        return "was cancelled".to_string();
    }
    let text = format!("{err}");
    format!("panicked ({text})")
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}
