//! A scheduler on a real spool in a temp folder, with a scripted deliverer.
#![allow(dead_code)]

pub mod daemon;
pub mod ini;
pub mod real;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use vmail_config::Config;
use vmail_core::{Envelope, JobId, Outcome, Reply, RetryPolicy};
use vmail_daemon::deliver::{Attempt, Deliver, Report, ReportSink};
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::{Exit, Inputs, Mode, Scheduler};
use vmail_daemon::watcher::Hint;
use vmail_daemon::worker::WorkerContext;
use vmail_spool::Spool;

/// What the fake answers, per attempt, in order; once the script is empty
/// every job is delivered.
pub enum Answer {
    Deliver,
    Defer(u16),
    Fail(u16),
    /// Per recipient, in envelope order: true accepted, false refused 550,
    /// None deferred 450.
    Recipients(Vec<Option<bool>>),
    /// Wait until the test releases the gate, then deliver.
    Gate,
    /// Wait until the test releases the gate, then answer as given.
    GateThen(Box<Answer>),
    /// The deliverer panics (a bug in a session must not lose its jobs).
    Panic,
}

#[derive(Default)]
pub struct Fake {
    pub script: Mutex<VecDeque<Answer>>,
    pub attempts: Mutex<Vec<(Instant, Attempt)>>,
    pub gate: Notify,
    pub gate_entered: Notify,
    /// Sessions waiting at the gate now.
    pub in_gate: std::sync::atomic::AtomicUsize,
}

pub fn reply(code: u16) -> Reply {
    Reply::new(code, None, format!("scripted {code}"))
}

impl Fake {
    pub fn scripted(answers: Vec<Answer>) -> Arc<Fake> {
        Arc::new(Fake {
            script: Mutex::new(answers.into()),
            ..Fake::default()
        })
    }

    pub fn attempts(&self) -> Vec<(Instant, Attempt)> {
        self.attempts.lock().unwrap().clone()
    }

    /// Waits at most 10 s (of tokio's clock) until a session is at the gate.
    pub async fn wait_at_gate(&self) {
        tokio::time::timeout(Duration::from_secs(10), self.gate_entered.notified())
            .await
            .unwrap();
    }

    async fn answer(&self, attempt: &Attempt) -> Report {
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Deliver);
        self.answer_with(answer, attempt).await
    }

    async fn answer_with(&self, answer: Answer, attempt: &Attempt) -> Report {
        use std::sync::atomic::Ordering::SeqCst;
        match answer {
            Answer::Deliver => Report::new(Outcome::Delivered { reply: reply(250) }),
            Answer::Defer(code) => Report::new(Outcome::Deferred {
                reason: "scripted".into(),
                reply: Some(reply(code)),
            }),
            Answer::Fail(code) => Report::new(Outcome::Failed {
                reason: "scripted".into(),
                reply: Some(reply(code)),
            }),
            Answer::Recipients(verdicts) => per_recipient(attempt, &verdicts),
            Answer::Gate => {
                Box::pin(self.answer_with(Answer::GateThen(Box::new(Answer::Deliver)), attempt))
                    .await
            }
            Answer::GateThen(then) => {
                // Registered before it is counted, so a test that sees the
                // count can release every waiter with `notify_waiters`.
                let released = self.gate.notified();
                tokio::pin!(released);
                released.as_mut().enable();
                self.in_gate.fetch_add(1, SeqCst);
                self.gate_entered.notify_one();
                released.await;
                self.in_gate.fetch_sub(1, SeqCst);
                Box::pin(self.answer_with(*then, attempt)).await
            }
            Answer::Panic => panic!("scripted panic in the deliverer"),
        }
    }
}

fn per_recipient(attempt: &Attempt, verdicts: &[Option<bool>]) -> Report {
    let recipients = attempt
        .envelope
        .recipients
        .iter()
        .zip(verdicts)
        .map(|(rcpt, verdict)| {
            let outcome = match verdict {
                Some(true) => Outcome::Delivered { reply: reply(250) },
                Some(false) => Outcome::Failed {
                    reason: "refused".into(),
                    reply: Some(reply(550)),
                },
                None => Outcome::Deferred {
                    reason: "later".into(),
                    reply: Some(reply(450)),
                },
            };
            (rcpt.clone(), outcome)
        })
        .collect();
    let mut report = Report::new(Outcome::Delivered { reply: reply(250) });
    report.recipients = recipients;
    report
}

impl Deliver for Fake {
    async fn deliver(&self, batch: Vec<Attempt>, sink: ReportSink) {
        for (index, attempt) in batch.into_iter().enumerate() {
            self.attempts
                .lock()
                .unwrap()
                .push((Instant::now(), attempt.clone()));
            let report = self.answer(&attempt).await;
            sink.settle(index, report).await;
        }
    }

    fn destination(&self) -> String {
        "fake".into()
    }
}

/// Retry bounds the scheduler tests pass to [`config`].
pub const TENTH: Duration = Duration::from_millis(100);
pub const MINUTE: Duration = Duration::from_secs(60);
pub const HOUR: Duration = Duration::from_secs(3600);
pub const DAY: Duration = Duration::from_secs(86_400);

/// A configuration for a spool in `dir`, with retries shortened to `min`.
pub fn config(dir: &Path, min: Duration, lifetime: Duration) -> Config {
    let ini = dir.join("vsisrv.ini");
    let text =
        "[VMAIL]\nmail-server = file:capture\nfrom = fax@example.test\n[VFXSCHED]\nspool = spool\n";
    std::fs::write(&ini, text).unwrap();
    let mut config = vmail_config::load(&ini).unwrap().config;
    config.retry = RetryPolicy {
        min,
        max: min * 8,
        max_lifetime: lifetime,
    };
    config.max_connections = 2;
    config
}

pub struct Running {
    pub spool: Arc<Spool>,
    pub control: mpsc::Sender<Control>,
    pub hints: mpsc::Sender<Hint>,
    pub task: tokio::task::JoinHandle<Exit>,
}

impl Running {
    /// Tells the scheduler to look at the queue now, as the watcher does.
    pub async fn rescan(&self) {
        self.hints.send(Hint::Rescan).await.unwrap();
    }
}

/// The scheduler's exit, waiting at most 10 s (of tokio's clock) for it.
pub async fn exit_of(task: tokio::task::JoinHandle<Exit>) -> Exit {
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
}

pub fn start(config: Config, fake: Arc<Fake>, mode: Mode) -> Running {
    let spool = Arc::new(Spool::open(&config.spool).unwrap());
    let (control, control_rx) = mpsc::channel(8);
    let (hints, hints_rx) = mpsc::channel(64);
    let ctx = WorkerContext {
        spool: Arc::clone(&spool),
        deliverer: fake,
        config: Arc::new(config),
        clock: vmail_daemon::clock::Clock::following_tokio(),
        metrics: Default::default(),
    };
    let inputs = Inputs {
        hints: hints_rx,
        control: control_rx,
    };
    let scheduler = Scheduler::new(ctx, inputs, Box::new(|| None), mode);
    Running {
        spool,
        control,
        hints,
        task: tokio::spawn(scheduler.run()),
    }
}

pub fn envelope(recipients: &[&str]) -> Envelope {
    Envelope::new(
        "fax@example.test",
        recipients.iter().map(|r| r.to_string()).collect(),
    )
}

pub fn message(subject: &str) -> Vec<u8> {
    format!("From: fax@example.test\nTo: a@example.test\nSubject: {subject}\n\nbody\n").into_bytes()
}

/// Queues [`message`] `subject` for `recipients` in `spool`, with no size
/// limit; its job id.
pub fn submit(spool: &Spool, recipients: &[&str], subject: &str) -> JobId {
    spool
        .submit(&envelope(recipients), message(subject).as_slice(), u64::MAX)
        .unwrap()
}

/// Waits, bounded (10 s), until `done` holds; panics with `what` otherwise.
pub async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    vmail_testkit::process::wait_until(what, Duration::from_secs(10), done).await;
}

pub fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".state"))
                .count()
        })
        .unwrap_or(0)
}
