//! One worker run: a batch of due jobs goes to the deliverer over one
//! session, then each job is settled on disk: its log, its state, `sent/` or
//! `failed/`, a notice to the sender, or a new job for the recipients still
//! to be tried. The scheduler only learns what to do next with each id.

use crate::clock::Clock;
use crate::deliver::{Attempt, Deliver, Report, ReportSink, Settling};
use crate::metrics::{Metrics, Settled};
use chrono::SecondsFormat;
use std::fs::File;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use vmail_config::Config;
use vmail_core::{DebugLevel, Envelope, JobId, Outcome};
use vmail_message::dsn::{self, FailureReport, KeptIn, NoticeOrigin, RecipientFate};
use vmail_message::header::read_header_block;
use vmail_spool::{JobState, LogLines, QueuedJob, Spool, SpoolError};

/// What the scheduler should do with a job after a worker had it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Delivered, failed, deleted or unreadable: forget it.
    Done,
    /// Deferred: try again at this time.
    RetryAt(SystemTime),
    /// Held by an administrator since it was picked: keep it, but not due.
    Held,
}

/// For the scheduler's debug lines: what comes next for the job, in words.
impl std::fmt::Display for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Next::Done => f.write_str("done (delivered, failed or deleted)"),
            Next::RetryAt(due) => write!(f, "next attempt at {}", vmail_spool::format_time(*due)),
            Next::Held => f.write_str("held by an administrator"),
        }
    }
}

/// The end of a worker run.
#[derive(Debug, Default)]
pub struct BatchResult {
    pub finished: Vec<(JobId, Next)>,
    /// Jobs the run queued itself: failure notices and requeued recipients.
    pub queued: Vec<JobId>,
}

/// What a worker needs, cloned cheaply into each run.
pub struct WorkerContext<D> {
    pub spool: Arc<Spool>,
    pub deliverer: Arc<D>,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// What the metrics and `vfxadmin status` count.
    pub metrics: Metrics,
}

impl<D> Clone for WorkerContext<D> {
    fn clone(&self) -> Self {
        WorkerContext {
            spool: Arc::clone(&self.spool),
            deliverer: Arc::clone(&self.deliverer),
            config: Arc::clone(&self.config),
            clock: self.clock,
            metrics: self.metrics.clone(),
        }
    }
}

/// Delivers `ids` and settles every one of them, each the moment the
/// server has answered for it.
pub async fn run_batch<D: Deliver>(ctx: WorkerContext<D>, ids: Vec<JobId>) -> BatchResult {
    let prep_ctx = ctx.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(&prep_ctx, ids)).await;
    let (jobs, mut result) = match prepared {
        Ok(prepared) => prepared,
        // The scheduler owns this task and takes its jobs back on a panic.
        Err(err) => reraise(err),
    };
    if jobs.is_empty() {
        return result;
    }
    let _session = ctx.metrics.session();
    let attempts = jobs.iter().map(attempt_for).collect();
    let (sink, reports) = ReportSink::channel();
    let delivering = ctx.deliverer.deliver(attempts, sink);
    let settling = settle_as_reported(&ctx, jobs, reports);
    let ((), settled) = tokio::join!(delivering, settling);
    result.finished.extend(settled.finished);
    result.queued.extend(settled.queued);
    result
}

/// Records each job as its report arrives, on the blocking pool, and lets
/// the deliverer go on only then. What the deliverer never reported is
/// deferred. The moves to `sent/` and `failed/` share one folder sync at
/// the end (see `Spool::finish_sent_unsynced`): a kill -9 cannot undo a
/// rename, and a power cut before the sync resends, never loses.
async fn settle_as_reported<D: Deliver>(
    ctx: &WorkerContext<D>,
    jobs: Vec<Loaded>,
    mut reports: mpsc::Receiver<Settling>,
) -> BatchResult {
    let mut waiting: Vec<Option<Loaded>> = jobs.into_iter().map(Some).collect();
    let mut result = BatchResult::default();
    while let Some((index, report, recorded)) = reports.recv().await {
        if let Some(job) = waiting.get_mut(index).and_then(Option::take) {
            settle_one(ctx, job, report, &mut result).await;
        }
        let _ = recorded.send(());
    }
    for job in waiting.into_iter().flatten() {
        let report = Report::new(Outcome::Deferred {
            reason: "the deliverer returned no report for this job".to_string(),
            reply: None,
        });
        settle_one(ctx, job, report, &mut result).await;
    }
    let spool = Arc::clone(&ctx.spool);
    let synced = tokio::task::spawn_blocking(move || spool.sync_finished()).await;
    match synced {
        Ok(Ok(())) => {}
        Ok(Err(err)) => warn!("cannot sync the spool after settling a batch: {err}"),
        Err(err) => reraise(err),
    }
    result
}

async fn settle_one<D: Deliver>(
    ctx: &WorkerContext<D>,
    loaded: Loaded,
    report: Report,
    result: &mut BatchResult,
) {
    let ctx = ctx.clone();
    let settled = tokio::task::spawn_blocking(move || {
        let mut queued = Vec::new();
        let next = settle(&ctx, &loaded, &report, &mut queued);
        (loaded.job.id, next, queued)
    })
    .await;
    match settled {
        Ok((id, next, queued)) => {
            result.finished.push((id, next));
            result.queued.extend(queued);
        }
        Err(err) => reraise(err),
    }
}

/// A blocking step of this worker panicked (or was cancelled by the
/// runtime's end): let the worker's task end the same way, so the
/// scheduler, which owns it, takes its jobs back.
fn reraise(err: tokio::task::JoinError) -> ! {
    match err.try_into_panic() {
        Ok(payload) => std::panic::resume_unwind(payload),
        Err(err) => panic!("a blocking step of the worker did not finish: {err}"),
    }
}

/// A job read for an attempt, with its message file, opened once: the
/// deliverer streams from it and the settle locks the job through it.
struct Loaded {
    job: QueuedJob,
    message: Arc<File>,
}

fn attempt_for(loaded: &Loaded) -> Attempt {
    let job = &loaded.job;
    Attempt {
        id: job.id.clone(),
        envelope: job.envelope.clone(),
        message_path: job.message_path.clone(),
        message: Arc::clone(&loaded.message),
        body_offset: job.body_offset,
        size: job.size,
    }
}

/// Loads each job; those gone, held or unreadable are settled at once.
///
/// Each job to be attempted also gets its log file here, all of the
/// batch's at once, though the lines come only when the job is settled:
/// creating a file is most of what recording a job costs, and on an ext4
/// without a journal, where the inode allocator steps over every inode
/// freed in the last minutes, creating them one by one between messages
/// (under each message's gate) drained a backlog about a sixth slower than creating
/// them together. A log that cannot be created now is reported by the
/// settle, which tries again.
fn prepare<D>(ctx: &WorkerContext<D>, ids: Vec<JobId>) -> (Vec<Loaded>, BatchResult) {
    let mut jobs = Vec::with_capacity(ids.len());
    let mut result = BatchResult::default();
    for id in ids {
        match ctx.spool.load_open(&id) {
            Ok((job, _)) if job.state.held => result.finished.push((id, Next::Held)),
            Ok((job, file)) => {
                let _created = ctx.spool.job_log(&id);
                jobs.push(Loaded {
                    job,
                    message: Arc::new(file),
                });
            }
            Err(SpoolError::UnknownJob { .. }) => result.finished.push((id, Next::Done)),
            Err(SpoolError::Corrupt(corrupt)) => {
                match ctx.spool.set_aside(&corrupt) {
                    Ok(moved) => warn!(job = %id, "set aside: {moved}"),
                    Err(err) => warn!(job = %id, "{corrupt}; it cannot be set aside: {err}"),
                }
                // Only a bad state was set aside: the job goes on as a fresh one.
                let next = if ctx.spool.message_path(&id).exists() {
                    Next::RetryAt(ctx.clock.now())
                } else {
                    Next::Done
                };
                result.finished.push((id, next));
            }
            Err(err) => {
                // An I/O error (a full or read-only disk) passes; the job stays.
                let again = ctx.clock.now() + ctx.config.retry.min;
                warn!(job = %id, "cannot read the job now, trying again later: {err}");
                result.finished.push((id, Next::RetryAt(again)));
            }
        }
    }
    (jobs, result)
}

/// Records one job's attempt and moves it on.
fn settle<D: Deliver>(
    ctx: &WorkerContext<D>,
    loaded: &Loaded,
    report: &Report,
    queued: &mut Vec<JobId>,
) -> Next {
    let job = &loaded.job;
    let destination = ctx.deliverer.destination();
    let attempt_no = job.state.attempts + 1;
    let mut log = JobLogLines::new(ctx, &job.id);
    if job.state.attempts == 0
        && let Some(note) = &job.note
    {
        // The submitter left its line in the queue entry rather than create
        // the log itself; it goes first, with its own time.
        log.stamped(note);
    }
    log.line(&format!(
        "attempt {attempt_no} via {destination}: {}",
        report.outcome
    ));
    for (recipient, outcome) in &report.recipients {
        log.line(&format!("  <{recipient}>: {outcome}"));
    }
    for note in &report.notes {
        log.line(&format!("  note: {note}"));
    }
    if ctx.config.debug >= DebugLevel::Transcript {
        for line in &report.transcript {
            // One time per line: when it was sent or received.
            log.stamped(&format!(
                "{}   {} {}",
                line.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                line.direction.marker(),
                line.text
            ));
        }
    }
    // From here on the job's record may be rewritten: under its lock, so an
    // administrator's hold, release, retry or delete made during the attempt
    // is read now and honoured, never overwritten.
    let locked = match loaded.message.try_clone() {
        Ok(file) => ctx.spool.lock_opened(&job.id, file),
        Err(_) => ctx.spool.lock_job(&job.id),
    };
    let _lock = match locked {
        Ok(lock) => Some(lock),
        Err(SpoolError::UnknownJob { .. }) => {
            log.line("the job was deleted from the queue during the attempt");
            info!(job = %job.id, "deleted during the attempt: {}", report.outcome);
            return Next::Done;
        }
        Err(err) => {
            warn!(job = %job.id, "cannot lock the job, settling it unlocked: {err}");
            None
        }
    };
    // The server that answered, for the status's per-host facts: one of
    // several when mail-server lists them.
    let server = report.server.clone().unwrap_or(destination);
    let split = RecipientSplit::of(job, report);
    match split.verdict() {
        Verdict::AllDelivered => finish_sent(ctx, job, &server, &report.outcome, &mut log),
        Verdict::AllFailed => {
            let fates = split.fates(job, report);
            finish_failed(
                ctx,
                job,
                &server,
                &report.outcome,
                fates,
                attempt_no,
                &mut log,
                queued,
            )
        }
        Verdict::AllDeferred => defer(
            ctx,
            job,
            &server,
            &report.outcome,
            attempt_no,
            &mut log,
            queued,
        ),
        Verdict::Mixed => settle_mixed(
            ctx, job, &server, report, split, attempt_no, &mut log, queued,
        ),
    }
}

fn finish_sent<D: Deliver>(
    ctx: &WorkerContext<D>,
    job: &QueuedJob,
    server: &str,
    outcome: &Outcome,
    log: &mut JobLogLines,
) -> Next {
    ctx.metrics.delivered(&settled(ctx, job, server, outcome));
    // The status goes into the log before the move, so that whoever sees the
    // job in sent/ (an administrator, `vfxadmin queue show`) reads a finished log.
    log.line("status: delivered");
    log.flush();
    match ctx.spool.finish_sent_unsynced(&job.id) {
        Ok(_) => info!(job = %job.id, "delivered to {}", job.envelope.recipients.join(", ")),
        // The server has the message; at worst it is sent again. Never lost.
        Err(err) => {
            log.line(&format!("warning: cannot move the job to sent/: {err}"));
            warn!(job = %job.id, "delivered, but cannot move it to sent/: {err}");
        }
    }
    Next::Done
}

#[allow(clippy::too_many_arguments)] // the settle's facts, passed down as they are
fn finish_failed<D: Deliver>(
    ctx: &WorkerContext<D>,
    job: &QueuedJob,
    server: &str,
    outcome: &Outcome,
    fates: Vec<(String, RecipientFate)>,
    attempts: u32,
    log: &mut JobLogLines,
    queued: &mut Vec<JobId>,
) -> Next {
    let failed = Failure {
        fates,
        attempts,
        kept_in: KeptIn::Failed,
    };
    // The notice is queued while the job is still in queue/: a crash
    // between the two leaves the job to fail again after the restart, so
    // the sender gets the notice twice, never not at all. (Moved first, a
    // kill -9 in between lost the notice for good.)
    send_notice(ctx, job, &failed, log, queued);
    ctx.metrics.failed(&settled(ctx, job, server, outcome));
    log.line(&format!("status: failed ({outcome})"));
    log.flush();
    if let Err(err) = ctx.spool.finish_failed_unsynced(&job.id) {
        log.line(&format!("warning: cannot move the job to failed/: {err}"));
        warn!(job = %job.id, "failed, but cannot move it to failed/: {err}");
        return Next::Done;
    }
    warn!(job = %job.id, "{outcome}");
    Next::Done
}

fn defer<D: Deliver>(
    ctx: &WorkerContext<D>,
    job: &QueuedJob,
    server: &str,
    outcome: &Outcome,
    attempts: u32,
    log: &mut JobLogLines,
    queued: &mut Vec<JobId>,
) -> Next {
    let now = ctx.clock.now();
    let (reason, reply) = match outcome {
        Outcome::Deferred { reason, reply } | Outcome::Failed { reason, reply } => {
            (reason.clone(), reply.clone())
        }
        Outcome::Delivered { reply } => (String::new(), Some(reply.clone())),
    };
    // The record as it is now (the caller holds the job's lock), not as it
    // was when the batch was read: an administrator may have acted since.
    let current = match ctx.spool.state(&job.id) {
        Ok(current) => current,
        Err(SpoolError::UnknownJob { .. }) => {
            log.line("the job was deleted from the queue during the attempt");
            return Next::Done;
        }
        Err(err) => {
            warn!(job = %job.id, "cannot read the job's state again, using the one read before the attempt: {err}");
            job.state.clone()
        }
    };
    let Some(state) =
        current.deferred_over(&job.state, now, reason, reply.clone(), &ctx.config.retry)
    else {
        let expired = Outcome::Failed {
            reason: format!(
                "not delivered within max-lifetime ({}s); last error: {outcome}",
                ctx.config.retry.max_lifetime.as_secs()
            ),
            reply,
        };
        let fates = job
            .envelope
            .recipients
            .iter()
            .map(|r| (r.clone(), RecipientFate::from(expired.clone())))
            .collect();
        return finish_failed(ctx, job, server, &expired, fates, attempts, log, queued);
    };
    // The attempt is in the log before the state counts it.
    log.flush();
    if let Err(err) = ctx.spool.record_attempt(&job.id, &state) {
        warn!(job = %job.id, "cannot record the attempt: {err}");
    }
    ctx.metrics.deferred(&settled(ctx, job, server, outcome));
    if state.held {
        log.line("held by an administrator: no next attempt until it is released");
        debug!(job = %job.id, "{outcome}; held by an administrator");
        return Next::Held;
    }
    let due = state.next_due.unwrap_or(now);
    log.line(&format!(
        "next attempt at {}",
        vmail_spool::format_time(due)
    ));
    debug!(job = %job.id, "{outcome}; next attempt at {}", vmail_spool::format_time(due));
    Next::RetryAt(due)
}

/// Some recipients took the message and some did not: the job is done for
/// the delivered ones, the failed ones get a notice, and the deferred ones
/// go on as a new job so the delivered ones are never sent twice.
#[allow(clippy::too_many_arguments)] // the settle's facts, passed down as they are
fn settle_mixed<D: Deliver>(
    ctx: &WorkerContext<D>,
    job: &QueuedJob,
    server: &str,
    report: &Report,
    split: RecipientSplit,
    attempts: u32,
    log: &mut JobLogLines,
    queued: &mut Vec<JobId>,
) -> Next {
    if !split.failed.is_empty() {
        let failed = Failure {
            fates: split.fates(job, report),
            attempts,
            kept_in: KeptIn::Sent,
        };
        send_notice(ctx, job, &failed, log, queued);
    }
    if !split.deferred.is_empty() {
        let rest = Envelope::new(job.envelope.from.clone(), split.deferred.clone());
        match requeue(ctx, job, &rest) {
            Ok(id) => {
                log.line(&format!(
                    "{} recipient(s) deferred: they go on as job {id}",
                    rest.recipients.len()
                ));
                queued.push(id);
            }
            Err(err) => {
                warn!(job = %job.id, "cannot requeue the deferred recipients, retrying the whole job: {err}");
                return defer(ctx, job, server, &report.outcome, attempts, log, queued);
            }
        }
    }
    finish_sent(ctx, job, server, &report.outcome, log)
}

fn requeue<D>(
    ctx: &WorkerContext<D>,
    job: &QueuedJob,
    envelope: &Envelope,
) -> Result<JobId, SpoolError> {
    let message = ctx.spool.open_message(&job.id)?;
    let id = job.id.derived("requeue");
    if !ctx.spool.submit_once(&id, envelope, message)? {
        // Queued before a crash that kept this job from being recorded.
        return Ok(id);
    }
    let mut state = JobState::fresh(job.state.first_queued);
    state.attempts = job.state.attempts + 1;
    // A hold taken during the attempt holds what is left of the job.
    state.held = ctx.spool.state(&job.id).is_ok_and(|current| current.held);
    state.next_due = job
        .state
        .deferred(ctx.clock.now(), "requeued", None, &ctx.config.retry)
        .and_then(|s| s.next_due);
    ctx.spool.record_attempt(&id, &state)?;
    Ok(id)
}

/// A settled attempt of `job`, for the metrics and the status file.
fn settled<'a, D: Deliver>(
    ctx: &WorkerContext<D>,
    job: &'a QueuedJob,
    server: &str,
    outcome: &'a Outcome,
) -> Settled<'a> {
    Settled {
        host: server.to_string(),
        job: &job.id,
        outcome,
        log: ctx.spool.log_path(&job.id),
        first_queued: job.state.first_queued,
        now: ctx.clock.now(),
    }
}

/// What a notice reports: every recipient of the attempt with its own
/// fate (refused with its reply, delivered, still being tried), and where
/// the job is kept.
struct Failure {
    fates: Vec<(String, RecipientFate)>,
    attempts: u32,
    kept_in: KeptIn,
}

/// Queues the RFC 3464 notice to the job's sender, under an id derived from
/// the job's, so a job that fails again after a crash does not send two.
fn send_notice<D: Deliver>(
    ctx: &WorkerContext<D>,
    job: &QueuedJob,
    failure: &Failure,
    log: &mut JobLogLines,
    queued: &mut Vec<JobId>,
) {
    if !dsn::wants_notice(&job.envelope.from) {
        log.line("no failure notice: the job has no sender (it may be a notice itself)");
        return;
    }
    let helo = ctx
        .config
        .smtp()
        .map_or("localhost", |s| s.helo_name.as_str());
    let origin = NoticeOrigin::new(&ctx.config.from, helo);
    let headers = ctx
        .spool
        .open_message(&job.id)
        .ok()
        .and_then(|message| read_header_block(message).ok());
    let server = ctx.deliverer.destination();
    let report = FailureReport {
        job: &job.id,
        sender: &job.envelope.from,
        recipients: &failure.fates,
        original_headers: headers.as_deref(),
        subject: None,
        attempts: failure.attempts,
        remote_server: &server,
        origin: &origin,
        arrival: Some(job.state.first_queued),
        last_attempt: ctx.clock.now(),
        kept_in: failure.kept_in,
    };
    let bytes = match dsn::build(&report) {
        Ok(bytes) => bytes,
        Err(err) => {
            log.line(&format!("no failure notice could be queued: {err}"));
            return;
        }
    };
    let id = job.id.derived("notice");
    let to = &job.envelope.from;
    match ctx
        .spool
        .submit_once(&id, &report.envelope(), bytes.as_slice())
    {
        Ok(true) => {
            ctx.metrics.notice_queued();
            log.line(&format!("failure notice to <{to}> queued as job {id}"));
            queued.push(id);
        }
        Ok(false) => log.line(&format!(
            "failure notice to <{to}> was queued as job {id} before a restart; not again"
        )),
        Err(err) => log.line(&format!("no failure notice could be queued: {err}")),
    }
}

enum Verdict {
    AllDelivered,
    AllFailed,
    AllDeferred,
    Mixed,
}

/// The recipients sorted by what became of them.
struct RecipientSplit {
    delivered: Vec<String>,
    deferred: Vec<String>,
    failed: Vec<String>,
    whole: Verdict,
}

impl RecipientSplit {
    fn of(job: &QueuedJob, report: &Report) -> RecipientSplit {
        let whole = match report.outcome {
            Outcome::Delivered { .. } => Verdict::AllDelivered,
            Outcome::Deferred { .. } => Verdict::AllDeferred,
            Outcome::Failed { .. } => Verdict::AllFailed,
        };
        let mut split = RecipientSplit {
            delivered: Vec::new(),
            deferred: Vec::new(),
            failed: Vec::new(),
            whole,
        };
        // A message the server took in DATA decides for every recipient it
        // accepted at RCPT; the per-recipient verdicts are from RCPT.
        for (recipient, outcome) in &report.recipients {
            if !job.envelope.recipients.contains(recipient) {
                continue;
            }
            match (outcome, &report.outcome) {
                (Outcome::Delivered { .. }, Outcome::Delivered { .. }) => {
                    split.delivered.push(recipient.clone())
                }
                (Outcome::Delivered { .. }, Outcome::Deferred { .. }) => {
                    split.deferred.push(recipient.clone())
                }
                (Outcome::Delivered { .. }, Outcome::Failed { .. }) => {
                    split.failed.push(recipient.clone())
                }
                (Outcome::Deferred { .. }, _) => split.deferred.push(recipient.clone()),
                (Outcome::Failed { .. }, _) => split.failed.push(recipient.clone()),
            }
        }
        split
    }

    /// Each recipient of the job with what became of it, for the notice:
    /// a refused one with its own reply (from RCPT, or the reply to the
    /// data when the server took it at RCPT and refused the message).
    fn fates(&self, job: &QueuedJob, report: &Report) -> Vec<(String, RecipientFate)> {
        let own = |recipient: &str| {
            report
                .recipients
                .iter()
                .find(|(address, _)| address == recipient)
                .map(|(_, outcome)| outcome)
        };
        job.envelope
            .recipients
            .iter()
            .map(|recipient| {
                let fate = match own(recipient) {
                    Some(outcome @ (Outcome::Failed { .. } | Outcome::Deferred { .. })) => {
                        RecipientFate::from(outcome.clone())
                    }
                    _ if self.delivered.contains(recipient) => {
                        RecipientFate::from(report.outcome.clone())
                    }
                    _ if self.deferred.contains(recipient) => RecipientFate::Deferred {
                        reason: report.outcome.to_string(),
                        reply: report.outcome.reply().cloned(),
                    },
                    _ => match report.outcome.clone() {
                        Outcome::Delivered { reply } => RecipientFate::Failed {
                            reason: "the server refused this recipient".to_string(),
                            reply: Some(reply),
                        },
                        other => RecipientFate::from(other),
                    },
                };
                (recipient.clone(), fate)
            })
            .collect()
    }

    fn verdict(&self) -> Verdict {
        let kinds = [
            !self.delivered.is_empty(),
            !self.deferred.is_empty(),
            !self.failed.is_empty(),
        ];
        match kinds {
            [false, false, false] => match self.whole {
                Verdict::AllDelivered => Verdict::AllDelivered,
                Verdict::AllFailed => Verdict::AllFailed,
                Verdict::AllDeferred | Verdict::Mixed => Verdict::AllDeferred,
            },
            [true, false, false] => Verdict::AllDelivered,
            [false, true, false] => Verdict::AllDeferred,
            [false, false, true] => Verdict::AllFailed,
            _ => Verdict::Mixed,
        }
    }
}

/// The job's log, gathered and written with one write when the record is
/// complete: before the job moves to `sent/` or `failed/` (whoever sees it
/// there reads a finished log), else when the settle ends. A log that
/// cannot be written is reported once in the daemon log and does not stop
/// the delivery.
struct JobLogLines {
    log: Option<vmail_spool::JobLog>,
    lines: LogLines,
    id: JobId,
}

impl JobLogLines {
    fn new<D>(ctx: &WorkerContext<D>, id: &JobId) -> JobLogLines {
        let log = ctx
            .spool
            .job_log(id)
            .map_err(|err| warn!(job = %id, "cannot open the job's log: {err}"))
            .ok();
        JobLogLines {
            log,
            lines: LogLines::default(),
            id: id.clone(),
        }
    }

    fn line(&mut self, text: &str) {
        self.lines.line(text);
    }

    fn stamped(&mut self, line: &str) {
        self.lines.stamped(line);
    }

    /// Writes the lines gathered so far.
    fn flush(&mut self) {
        if let Some(log) = self.log.as_mut()
            && let Err(err) = log.append_lines(&mut self.lines)
        {
            warn!(job = %self.id, "cannot write the job's log: {err}");
            self.log = None;
        }
    }
}

impl Drop for JobLogLines {
    fn drop(&mut self) {
        self.flush();
    }
}
