//! What vmaild counts for the people who watch it: the Prometheus metrics
//! behind `[VMAIL] metrics-listen`, and the facts of `vfxadmin status`
//! (the status file, [`crate::status`]). Both read this one [`Metrics`]:
//! one owner of each fact.
//!
//! Counting costs a few atomic additions per job. Everything that needs the
//! disk (the queue census, the spool's free space) is done only when
//! someone asks: at a scrape, or by `vfxadmin status` itself.

use crate::status::{self, Census, DaemonStatus, HostError, HostStatus};
use prometheus_client::encoding::{
    EncodeMetric, MetricEncoder, prometheus_text, text as openmetrics_text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry, Unit};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use vmail_core::{EnhancedCode, JobId, Outcome, Reply};
use vmail_oauth::OAuthClient;
use vmail_spool::Spool;

/// The labels of an outcome: the reply's class (`2xx`, `4xx`, `5xx`, or
/// `none` when the attempt ended without one: refused connection, timeout,
/// TLS) and the enhanced status code's class (`2`, `4`, `5`, or `none`).
type ReplyLabels = [(&'static str, &'static str); 2];
type ResultLabels = [(&'static str, &'static str); 1];
type FloatGauge = Gauge<f64, AtomicU64>;

/// A census is not taken more often than this, nor more often than
/// `CENSUS_COST_FACTOR` times its own duration: a queue of a million jobs
/// takes seconds to read, and a scrape every 15 s must not keep a core
/// busy reading it.
const CENSUS_MIN_INTERVAL: Duration = Duration::from_secs(5);
const CENSUS_COST_FACTOR: u32 = 20;

const SESSION_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
const MESSAGE_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0, 86_400.0, 432_000.0,
];

/// The daemon's counters and the facts of its status. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    started: SystemTime,
    delivered: Family<ReplyLabels, Counter>,
    failed: Family<ReplyLabels, Counter>,
    deferred: Family<ReplyLabels, Counter>,
    notices: Counter,
    sessions_open: Gauge,
    session_seconds: Histogram,
    message_seconds: Histogram,
    last_delivery: FloatGauge,
    queued: Gauge,
    held: Gauge,
    deferred_jobs: Gauge,
    oldest_age: FloatGauge,
    census_age: FloatGauge,
    spool_free: Gauge,
    /// Shown only while OAuth2 is configured.
    tokens_registry: Registry,
    token_requests: Family<ResultLabels, Counter>,
    facts: Mutex<Facts>,
    census: tokio::sync::Mutex<CensusCache>,
}

/// What the status file says beyond the counters.
#[derive(Default)]
struct Facts {
    config: PathBuf,
    listen: Option<vmail_config::MetricsListen>,
    relay: String,
    hosts: BTreeMap<String, HostStatus>,
    last_delivery: Option<SystemTime>,
    tokens: Option<TokenWatch>,
}

/// The running OAuth2 client's request counts, and what clients replaced
/// by a reload had counted (the counters never go back).
struct TokenWatch {
    client: OAuthClient,
    seen: (u64, u64),
}

#[derive(Default)]
struct CensusCache {
    taken: Option<(Instant, Duration)>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner::new()
    }
}

/// How a scrape names and explains one of [`Inner`]'s metrics. Tables of
/// these are the one place that says what a scrape shows, in its order.
struct Shown {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    metric: fn(&Inner) -> AnyMetric,
}

/// Every metric but the token counter, in the order a scrape lists them.
static SHOWN: [Shown; 14] = [
    Shown {
        name: "delivered",
        help: "Jobs delivered (moved to sent/), by the class of the server's last reply and of its enhanced status code",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.delivered),
    },
    Shown {
        name: "failed",
        help: "Jobs failed (moved to failed/, a notice to the sender), by the class of the last reply and of its enhanced status code",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.failed),
    },
    Shown {
        name: "deferred",
        help: "Attempts deferred (the job stays queued for a retry), by the class of the reply and of its enhanced status code",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.deferred),
    },
    Shown {
        name: "notices_queued",
        help: "Failure notices (RFC 3464) queued to senders",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.notices),
    },
    Shown {
        name: "sessions_open",
        help: "SMTP sessions (workers) carrying jobs now",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.sessions_open),
    },
    Shown {
        name: "session_duration",
        help: "Time from a session's start (connect) to its end, all its jobs included",
        unit: Some(Unit::Seconds),
        metric: |inner| AnyMetric::of(&inner.session_seconds),
    },
    Shown {
        name: "message_latency",
        help: "Time from a job's queueing to its delivery or failure, retries included",
        unit: Some(Unit::Seconds),
        metric: |inner| AnyMetric::of(&inner.message_seconds),
    },
    Shown {
        name: "last_delivery_timestamp_seconds",
        help: "When the last job was delivered (Unix time; 0 when none since the start)",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.last_delivery),
    },
    Shown {
        name: "jobs_queued",
        help: "Jobs in queue/ (held and deferred ones included), at the last census",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.queued),
    },
    Shown {
        name: "jobs_held",
        help: "Queued jobs held by an administrator, at the last census",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.held),
    },
    Shown {
        name: "jobs_deferred",
        help: "Queued jobs tried at least once and waiting for a retry, at the last census",
        unit: None,
        metric: |inner| AnyMetric::of(&inner.deferred_jobs),
    },
    Shown {
        name: "oldest_queued_job_age",
        help: "Age of the oldest queued job (0 when the queue is empty), at the last census",
        unit: Some(Unit::Seconds),
        metric: |inner| AnyMetric::of(&inner.oldest_age),
    },
    Shown {
        name: "queue_census_age",
        help: "How old the queue figures are: a census of a large queue is not taken at every scrape",
        unit: Some(Unit::Seconds),
        metric: |inner| AnyMetric::of(&inner.census_age),
    },
    Shown {
        name: "spool_free",
        help: "Free space for vmaild on the spool's file system",
        unit: Some(Unit::Bytes),
        metric: |inner| AnyMetric::of(&inner.spool_free),
    },
];

/// Apart from [`SHOWN`], for the reason given on `Inner::tokens_registry`.
static SHOWN_WITH_OAUTH: [Shown; 1] = [Shown {
    name: "oauth_token_requests",
    help: "Requests for an OAuth2 access token to the token endpoint (new tokens and refreshes), by result",
    unit: None,
    metric: |inner| AnyMetric::of(&inner.token_requests),
}];

/// Any of [`Inner`]'s metrics, so that one table can name them all. Every
/// method of [`EncodeMetric`] is passed on: an empty [`Family`] (the token
/// counter before its first request) must stay out of a scrape.
#[derive(Debug)]
struct AnyMetric(Box<dyn Metric>);

impl AnyMetric {
    /// prometheus-client's metrics are handles on shared counts: the clone
    /// shows what the field counts.
    fn of(metric: &(impl Metric + Clone)) -> AnyMetric {
        AnyMetric(Box::new(metric.clone()))
    }
}

impl EncodeMetric for AnyMetric {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Inner {
    fn new() -> Inner {
        let mut inner = Inner {
            registry: Registry::default(),
            started: SystemTime::now(),
            delivered: Family::default(),
            failed: Family::default(),
            deferred: Family::default(),
            notices: Counter::default(),
            sessions_open: Gauge::default(),
            // A session is one login and up to 50 jobs: 50 ms to 5 min.
            session_seconds: Histogram::new(SESSION_BUCKETS),
            // A job's time from the queue to its end, retries included: a
            // tenth of a second to max-lifetime's default of 5 days.
            message_seconds: Histogram::new(MESSAGE_BUCKETS),
            last_delivery: FloatGauge::default(),
            queued: Gauge::default(),
            held: Gauge::default(),
            deferred_jobs: Gauge::default(),
            oldest_age: FloatGauge::default(),
            census_age: FloatGauge::default(),
            spool_free: Gauge::default(),
            tokens_registry: Registry::default(),
            token_requests: Family::default(),
            facts: Mutex::new(Facts::default()),
            census: tokio::sync::Mutex::new(CensusCache::default()),
        };
        inner.registry = inner.registry_of(&SHOWN);
        inner.tokens_registry = inner.registry_of(&SHOWN_WITH_OAUTH);
        inner.seed_usual_outcomes();
        inner
    }

    fn registry_of(&self, table: &[Shown]) -> Registry {
        let mut registry = Registry::with_prefix("vmail");
        for shown in table {
            let metric = (shown.metric)(self);
            match &shown.unit {
                Some(unit) => {
                    registry.register_with_unit(shown.name, shown.help, unit.clone(), metric);
                }
                None => registry.register(shown.name, shown.help, metric),
            }
        }
        registry
    }

    /// The usual outcomes exist at 0 from the start, so that rate() and
    /// increase() see their first one.
    fn seed_usual_outcomes(&self) {
        for (family, class) in [(&self.delivered, 2), (&self.failed, 5), (&self.deferred, 4)] {
            let reply = Reply::new(
                u16::from(class) * 100,
                Some(EnhancedCode::new(class, 0, 0)),
                "",
            );
            drop(family.get_or_create(&labels(Some(&reply))));
        }
        drop(self.deferred.get_or_create(&labels(None)));
    }
}

/// A session in progress: counted open until dropped, then timed.
pub struct SessionGuard {
    metrics: Metrics,
    started: Instant,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let inner = &self.metrics.inner;
        inner.sessions_open.dec();
        inner
            .session_seconds
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// One settled attempt, as the worker reports it.
pub struct Settled<'a> {
    /// Where it went: the deliverer's destination.
    pub host: String,
    pub job: &'a JobId,
    pub outcome: &'a Outcome,
    /// The job's log, for the person who reads the last error.
    pub log: PathBuf,
    pub first_queued: SystemTime,
    pub now: SystemTime,
}

impl Metrics {
    fn facts(&self) -> MutexGuard<'_, Facts> {
        match self.inner.facts.lock() {
            Ok(facts) => facts,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The metrics of a daemon started on `config`.
    pub fn for_config(config: &vmail_config::Config) -> Metrics {
        let metrics = Metrics::default();
        {
            let mut facts = metrics.facts();
            facts.config = config.path.clone();
            facts.listen = config.metrics_listen.clone();
        }
        metrics
    }

    /// Where the endpoint listens (a reload does not move it).
    pub fn listen(&self) -> Option<vmail_config::MetricsListen> {
        self.facts().listen.clone()
    }

    /// A worker starts a session.
    pub fn session(&self) -> SessionGuard {
        self.inner.sessions_open.inc();
        SessionGuard {
            metrics: self.clone(),
            started: Instant::now(),
        }
    }

    /// A job moved to `sent/`.
    pub fn delivered(&self, settled: &Settled<'_>) {
        self.job_ended(&self.inner.delivered, settled);
        self.inner.last_delivery.set(unix_seconds(settled.now));
        let mut facts = self.facts();
        facts.last_delivery = Some(settled.now);
        facts.host(&settled.host).last_delivery = Some(status::timestamp(settled.now));
    }

    /// A job moved to `failed/`.
    pub fn failed(&self, settled: &Settled<'_>) {
        self.job_ended(&self.inner.failed, settled);
        self.last_error(settled);
    }

    /// An attempt deferred: the job waits for a retry.
    pub fn deferred(&self, settled: &Settled<'_>) {
        count(&self.inner.deferred, settled);
        self.last_error(settled);
    }

    /// Only a job that leaves the queue has a latency: a deferred one is
    /// still on its way.
    fn job_ended(&self, outcomes: &Family<ReplyLabels, Counter>, settled: &Settled<'_>) {
        count(outcomes, settled);
        self.inner.message_seconds.observe(latency(settled));
    }

    fn last_error(&self, settled: &Settled<'_>) {
        let error = HostError {
            at: status::timestamp(settled.now),
            job: settled.job.to_string(),
            text: settled.outcome.to_string(),
            log: settled.log.clone(),
        };
        self.facts().host(&settled.host).last_error = Some(error);
    }

    /// A failure notice was queued to a sender.
    pub fn notice_queued(&self) {
        self.inner.notices.inc();
    }

    /// The relay the running configuration delivers through (at start and
    /// after every reload).
    pub fn set_relay(&self, relay: String) {
        self.facts().relay = relay;
    }

    /// The running OAuth2 client, whose token requests are counted; `None`
    /// when the configuration has no OAuth2.
    pub fn set_token_client(&self, client: Option<OAuthClient>) {
        let mut facts = self.facts();
        let old = facts.tokens.take();
        let kept = match (&old, &client) {
            (Some(old), Some(new)) => old.client.is_same(new),
            _ => false,
        };
        if kept {
            facts.tokens = old;
            return;
        }
        // A new client counts from zero: what the old one counted stays.
        let seen = old.map_or((0, 0), |old| {
            let (ok, failed) = old.client.token_requests();
            (old.seen.0 + ok, old.seen.1 + failed)
        });
        facts.tokens = client.map(|client| TokenWatch { client, seen });
    }

    /// The facts `vfxadmin status` reads, as of now.
    pub fn status(&self, spool: &Spool) -> DaemonStatus {
        let inner = &self.inner;
        let facts = self.facts();
        DaemonStatus {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            running: true,
            started: status::timestamp(inner.started),
            config: facts.config.clone(),
            relay: facts.relay.clone(),
            metrics_listen: facts.listen.as_ref().map(ToString::to_string),
            daemon_log: spool.daemon_log_path(),
            sessions_open: inner.sessions_open.get(),
            delivered: total(&inner.delivered),
            failed: total(&inner.failed),
            deferred: total(&inner.deferred),
            notices: inner.notices.get(),
            last_delivery: facts.last_delivery.map(status::timestamp),
            hosts: facts.hosts.values().cloned().collect(),
        }
    }

    /// The scrape: the queue census when the last one is old enough, the
    /// spool's free space, then every metric in the Prometheus text format
    /// (`openmetrics`: in OpenMetrics instead, for a scraper that asks).
    pub async fn render(&self, spool: &Arc<Spool>, openmetrics: bool) -> String {
        self.refresh_census(spool).await;
        let free = fs_free(spool.root());
        self.inner.spool_free.set(free.unwrap_or(-1));
        self.update_tokens();
        let inner = &self.inner;
        let tokens = self.facts().tokens.is_some();
        let mut text = String::with_capacity(4096);
        // Writing to a String cannot fail.
        if openmetrics {
            let _ = openmetrics_text::encode_registry(&mut text, &inner.registry);
            if tokens {
                let _ = openmetrics_text::encode_registry(&mut text, &inner.tokens_registry);
            }
            let _ = openmetrics_text::encode_eof(&mut text);
        } else {
            let _ = prometheus_text::encode(&mut text, &inner.registry);
            if tokens {
                let _ = prometheus_text::encode(&mut text, &inner.tokens_registry);
            }
        }
        text
    }

    fn update_tokens(&self) {
        let facts = self.facts();
        if let Some(watch) = &facts.tokens {
            let (ok, failed) = watch.client.token_requests();
            for (result, count) in [("ok", watch.seen.0 + ok), ("failed", watch.seen.1 + failed)] {
                let counter = self
                    .inner
                    .token_requests
                    .get_or_create(&[("result", result)]);
                let shown = counter.get();
                if count > shown {
                    counter.inc_by(count - shown);
                }
            }
        }
    }

    async fn refresh_census(&self, spool: &Arc<Spool>) {
        let mut cache = self.inner.census.lock().await;
        let stale = cache.taken.is_none_or(|(at, took)| {
            at.elapsed() >= CENSUS_MIN_INTERVAL.max(took * CENSUS_COST_FACTOR)
        });
        if stale {
            let spool = Arc::clone(spool);
            let started = Instant::now();
            let census = tokio::task::spawn_blocking(move || status::census(&spool)).await;
            if let Ok(census) = census {
                self.set_census(&census);
                cache.taken = Some((started, started.elapsed()));
            }
        }
        let age = cache
            .taken
            .map_or(0.0, |(at, _)| at.elapsed().as_secs_f64());
        self.inner.census_age.set(age);
    }

    fn set_census(&self, census: &Census) {
        let inner = &self.inner;
        inner.queued.set(gauge_value(census.queued));
        inner.held.set(gauge_value(census.held));
        inner.deferred_jobs.set(gauge_value(census.deferred));
        let age = census
            .oldest
            .as_ref()
            .and_then(|oldest| SystemTime::now().duration_since(oldest.first_queued).ok())
            .map_or(0.0, |age| age.as_secs_f64());
        inner.oldest_age.set(age);
    }
}

impl Facts {
    fn host(&mut self, host: &str) -> &mut HostStatus {
        self.hosts
            .entry(host.to_string())
            .or_insert_with(|| HostStatus {
                host: host.to_string(),
                last_delivery: None,
                last_error: None,
            })
    }
}

/// One settled attempt in the family of its outcome, under its reply's labels.
fn count(outcomes: &Family<ReplyLabels, Counter>, settled: &Settled<'_>) {
    outcomes
        .get_or_create(&labels(settled.outcome.reply()))
        .inc();
}

fn total(family: &Family<ReplyLabels, Counter>) -> u64 {
    let classes = ["2xx", "4xx", "5xx", "none"];
    let enhanced = ["2", "4", "5", "none"];
    let mut sum = 0;
    for class in classes {
        for e in enhanced {
            if let Some(counter) = family.get(&[("reply_class", class), ("enhanced_class", e)]) {
                sum += counter.get();
            }
        }
    }
    sum
}

/// The labels of a reply: its class and its enhanced code's class.
fn labels(reply: Option<&Reply>) -> ReplyLabels {
    let class = match reply.map(|r| r.code / 100) {
        Some(2) => "2xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        _ => "none",
    };
    let enhanced = match reply.and_then(|r| r.enhanced.as_ref()).map(|e| e.class) {
        Some(2) => "2",
        Some(4) => "4",
        Some(5) => "5",
        _ => "none",
    };
    [("reply_class", class), ("enhanced_class", enhanced)]
}

fn latency(settled: &Settled<'_>) -> f64 {
    settled
        .now
        .duration_since(settled.first_queued)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Bytes an unprivileged writer (vmaild) may still use on the file system
/// that holds `path`.
fn fs_free(path: &std::path::Path) -> Option<i64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    let bytes = u128::from(stat.f_bavail) * u128::from(stat.f_frsize);
    Some(i64::try_from(bytes).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settled<'a>(job: &'a JobId, outcome: &'a Outcome) -> Settled<'a> {
        Settled {
            host: "mx.example.test:25".to_string(),
            job,
            outcome,
            log: PathBuf::from("/spool/logs/x.log"),
            first_queued: SystemTime::UNIX_EPOCH,
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(2),
        }
    }

    #[test]
    fn outcomes_are_counted_by_reply_class_and_enhanced_class() {
        let metrics = Metrics::default();
        let job = JobId::parse("job-1").unwrap();
        let ok = Outcome::Delivered {
            reply: Reply::new(250, Some(EnhancedCode::new(2, 0, 0)), "queued as X"),
        };
        let refused = Outcome::Failed {
            reason: "the server refused the recipient".into(),
            reply: Some(Reply::new(
                550,
                Some(EnhancedCode::new(5, 1, 1)),
                "no such user",
            )),
        };
        let timeout = Outcome::Deferred {
            reason: "timeout".into(),
            reply: None,
        };
        metrics.delivered(&settled(&job, &ok));
        metrics.delivered(&settled(&job, &ok));
        metrics.failed(&settled(&job, &refused));
        metrics.deferred(&settled(&job, &timeout));
        metrics.notice_queued();
        let dir = tempfile::tempdir().unwrap();
        let spool = Arc::new(Spool::open(dir.path()).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let text = runtime.block_on(metrics.render(&spool, false));
        for line in [
            "vmail_delivered_total{reply_class=\"2xx\",enhanced_class=\"2\"} 2",
            "vmail_failed_total{reply_class=\"5xx\",enhanced_class=\"5\"} 1",
            "vmail_deferred_total{reply_class=\"none\",enhanced_class=\"none\"} 1",
            "vmail_notices_queued_total 1",
            "vmail_jobs_queued 0",
            "vmail_message_latency_seconds_count 3",
            "vmail_last_delivery_timestamp_seconds 2.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
        assert!(
            !text.contains("oauth"),
            "no OAuth2, no token metric:\n{text}"
        );
        let open = runtime.block_on(metrics.render(&spool, true));
        assert!(open.ends_with("# EOF\n"), "{open}");
    }

    #[test]
    fn sessions_are_open_while_their_guard_lives() {
        let metrics = Metrics::default();
        let guard = metrics.session();
        assert_eq!(metrics.inner.sessions_open.get(), 1);
        drop(guard);
        assert_eq!(metrics.inner.sessions_open.get(), 0);
        let dir = tempfile::tempdir().unwrap();
        let spool = Arc::new(Spool::open(dir.path()).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let text = runtime.block_on(metrics.render(&spool, false));
        assert!(
            text.contains("\nvmail_session_duration_seconds_count 1\n"),
            "{text}"
        );
    }
}
