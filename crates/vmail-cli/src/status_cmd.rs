//! `vfxadmin status [--json]`: is vmaild running, since when, through which
//! relay, how the queue stands, and what to read next. The facts are the
//! ones the metrics endpoint serves, read without it: the daemon's status
//! file (`<spool>/vmaild.status.json`, rewritten by vmaild every few
//! seconds) for what only the daemon knows, and the spool itself for the
//! queue, so the answer holds with `metrics-listen` off and with the daemon
//! stopped.
//!
//! Exit status: 0 when vmaild runs, 3 when it does not (as LSB init
//! scripts' `status`), 1 on an error.

use crate::queue_cmd::span;
use crate::setup;
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;
use vmail_config::{Config, Delivery};
use vmail_daemon::status::{Census, DaemonStatus, census};
use vmail_spool::{Spool, format_time};

/// LSB: "program is not running".
const NOT_RUNNING: u8 = 3;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// Whether the daemon runs, as far as this machine can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Daemon {
    Running {
        pid: u32,
    },
    /// Its status file says it stopped cleanly.
    Stopped,
    /// Its status file says running, but the process is gone.
    Died {
        pid: u32,
    },
    /// It never wrote a status file on this spool.
    Unknown,
}

/// Everything the report says.
struct Report {
    daemon: Daemon,
    status: Option<DaemonStatus>,
    config: PathBuf,
    relay: String,
    census: Census,
    daemon_log: PathBuf,
    read_next: PathBuf,
}

pub fn run(config_path: Option<&Path>, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let config = setup::load_config(config_path)?;
    let spool = setup::open_spool(&config)?;
    let report = gather(&config, &spool)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&report))?);
    } else {
        print!("{}", to_text(&report, SystemTime::now()));
    }
    Ok(match report.daemon {
        Daemon::Running { .. } => ExitCode::SUCCESS,
        _ => ExitCode::from(NOT_RUNNING),
    })
}

fn gather(config: &Config, spool: &Spool) -> anyhow::Result<Report> {
    let status = DaemonStatus::read(spool.root())?;
    let daemon = match &status {
        None => Daemon::Unknown,
        Some(s) if !s.running => Daemon::Stopped,
        Some(s) if is_vmaild(s.pid) => Daemon::Running { pid: s.pid },
        Some(s) => Daemon::Died { pid: s.pid },
    };
    let relay = match (&daemon, &status) {
        (Daemon::Running { .. }, Some(s)) => s.relay.clone(),
        _ => configured_relay(config),
    };
    let read_next = read_next(status.as_ref(), &daemon, spool);
    Ok(Report {
        daemon,
        status,
        config: config.path.clone(),
        relay,
        census: census(spool),
        daemon_log: spool.daemon_log_path(),
        read_next,
    })
}

/// Whether `pid` is a running vmaild (and not another program that got
/// the number since).
fn is_vmaild(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim_end().starts_with("vmaild"))
}

/// Where the configuration sends mail, when no running daemon says.
fn configured_relay(config: &Config) -> String {
    match &config.delivery {
        Delivery::Smtp(smtp) => format!("{}:{}", smtp.host, smtp.port),
        Delivery::Capture { dir } => format!("capture folder {}", dir.display()),
    }
}

/// The log that explains the latest trouble: the job log of the last
/// error when it is newer than the last delivery, else the daemon's log.
fn read_next(status: Option<&DaemonStatus>, daemon: &Daemon, spool: &Spool) -> PathBuf {
    let daemon_log = spool.daemon_log_path();
    let Some(status) = status else {
        return daemon_log;
    };
    if !matches!(daemon, Daemon::Running { .. }) {
        return daemon_log;
    }
    let latest_error = status
        .hosts
        .iter()
        .filter_map(|h| h.last_error.as_ref())
        .max_by(|a, b| a.at.cmp(&b.at));
    match latest_error {
        Some(error) if status.last_delivery.as_ref().is_none_or(|d| error.at >= *d) => {
            error.log.clone()
        }
        _ => daemon_log,
    }
}

fn uptime(started: &str, now: SystemTime) -> Option<std::time::Duration> {
    let started = chrono::DateTime::parse_from_rfc3339(started).ok()?;
    let started = SystemTime::from(started.with_timezone(&chrono::Utc));
    now.duration_since(started).ok()
}

fn to_text(report: &Report, now: SystemTime) -> String {
    let status = report.status.as_ref();
    let mut lines = vec![
        daemon_line(&report.daemon, status, now),
        format!("configuration: {}", report.config.display()),
        format!("relay:         {}", report.relay),
    ];
    if let Some(listen) = status.and_then(|s| s.metrics_listen.as_ref()) {
        lines.push(format!("metrics:       {listen}"));
    }
    lines.extend(queue_lines(&report.census, now));
    if let Some(s) = status {
        lines.extend(activity_lines(s, &report.daemon));
    }
    lines.push(format!("read next:     {}", report.read_next.display()));
    lines.into_iter().map(|line| line + "\n").collect()
}

/// The status file tells a crash from a clean stop; without one the daemon
/// has never run on this spool.
fn daemon_line(daemon: &Daemon, status: Option<&DaemonStatus>, now: SystemTime) -> String {
    match (daemon, status) {
        (Daemon::Running { pid }, Some(s)) => {
            let up = uptime(&s.started, now).map_or_else(|| "?".to_string(), span);
            format!(
                "vmaild:        running (pid {pid}), up {up} since {}",
                s.started
            )
        }
        (Daemon::Died { pid }, Some(s)) => format!(
            "vmaild:        NOT running: pid {pid} (started {}) is gone without a clean stop",
            s.started
        ),
        (Daemon::Stopped, _) => "vmaild:        not running (stopped cleanly)".to_string(),
        _ => "vmaild:        not running (it has never run on this spool)".to_string(),
    }
}

/// Read from the spool, so they hold with the daemon stopped. A job is
/// waiting for its first attempt when it is neither held nor deferred.
fn queue_lines(census: &Census, now: SystemTime) -> Vec<String> {
    let mut lines = vec![format!(
        "queue:         {} job(s): {} held, {} deferred, {} waiting for a first attempt",
        census.queued,
        census.held,
        census.deferred,
        census.queued.saturating_sub(census.held + census.deferred)
    )];
    if let Some(oldest) = &census.oldest {
        let age = now
            .duration_since(oldest.first_queued)
            .map_or_else(|_| "0s".to_string(), span);
        lines.push(format!(
            "oldest job:    {} queued {} ({age} ago)",
            oldest.id,
            format_time(oldest.first_queued)
        ));
    }
    lines
}

/// What only the daemon knows: its counters and each host's last delivery
/// and error. A stopped daemon's file still tells how its last run went.
fn activity_lines(s: &DaemonStatus, daemon: &Daemon) -> Vec<String> {
    let since = if matches!(daemon, Daemon::Running { .. }) {
        "since the start"
    } else {
        "in its last run"
    };
    let mut lines = vec![
        format!(
            "{since}: {} delivered, {} failed, {} attempt(s) deferred, {} notice(s); {} session(s) open",
            s.delivered, s.failed, s.deferred, s.notices, s.sessions_open
        ),
        format!(
            "last delivery: {}",
            s.last_delivery.as_deref().unwrap_or("none")
        ),
    ];
    for host in &s.hosts {
        lines.push(format!("host {}:", host.host));
        lines.push(format!(
            "  last delivery: {}",
            host.last_delivery.as_deref().unwrap_or("none")
        ));
        if let Some(error) = &host.last_error {
            lines.push(format!(
                "  last error:    {} job {}: {}",
                error.at, error.job, error.text
            ));
        }
    }
    lines
}

fn to_json(report: &Report) -> Value {
    let now = SystemTime::now();
    let status = report.status.as_ref();
    let (running, pid) = match report.daemon {
        Daemon::Running { pid } => (true, Some(pid)),
        Daemon::Died { pid } => (false, Some(pid)),
        Daemon::Stopped | Daemon::Unknown => (false, None),
    };
    let c = &report.census;
    json!({
        "running": running,
        "pid": pid,
        "state": match report.daemon {
            Daemon::Running { .. } => "running",
            Daemon::Stopped => "stopped",
            Daemon::Died { .. } => "died",
            Daemon::Unknown => "unknown",
        },
        "started": status.map(|s| s.started.clone()),
        "uptime_seconds": match (&report.daemon, status) {
            (Daemon::Running { .. }, Some(s)) => uptime(&s.started, now).map(|d| d.as_secs()),
            _ => None,
        },
        "version": status.map(|s| s.version.clone()),
        "config": report.config,
        "relay": report.relay,
        "metrics_listen": status.and_then(|s| s.metrics_listen.clone()),
        "queue": {
            "queued": c.queued,
            "held": c.held,
            "deferred": c.deferred,
            "oldest": c.oldest.as_ref().map(|o| json!({
                "id": o.id.to_string(),
                "first_queued": format_time(o.first_queued),
                "age_seconds": now.duration_since(o.first_queued).map_or(0, |d| d.as_secs()),
            })),
        },
        "counts": status.map(|s| json!({
            "delivered": s.delivered,
            "failed": s.failed,
            "deferred": s.deferred,
            "notices": s.notices,
            "sessions_open": s.sessions_open,
        })),
        "last_delivery": status.and_then(|s| s.last_delivery.clone()),
        "hosts": status.map_or_else(Vec::new, |s| s.hosts.clone()),
        "daemon_log": report.daemon_log,
        "read_next": report.read_next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use vmail_daemon::status::Oldest;

    /// A job neither held nor deferred waits for its first attempt; a clock
    /// set back since the oldest job was queued reads as no age, not an error.
    #[test]
    fn the_queue_counts_waiting_jobs_and_a_clock_set_back() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let census = Census {
            queued: 5,
            held: 1,
            deferred: 2,
            oldest: Some(Oldest {
                id: vmail_core::JobId::parse("20270115-080010").unwrap(),
                first_queued: now + Duration::from_secs(10),
            }),
        };
        assert_eq!(
            queue_lines(&census, now),
            [
                "queue:         5 job(s): 1 held, 2 deferred, 2 waiting for a first attempt",
                "oldest job:    20270115-080010 queued 2027-01-15T08:00:10Z (0s ago)",
            ]
        );
    }
}
