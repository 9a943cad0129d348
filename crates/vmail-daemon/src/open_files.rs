//! The open-files limit. A worker keeps every job of its batch open for
//! the whole session (up to 50 a session, so that each message file is
//! opened once per attempt), so `max-connections = 20` with a backlog needs
//! more than the 1,024 descriptors a service gets by default: the rest of
//! the batch would fail with "Too many open files" and wait for a retry.
//! The hard limit is usually far higher (systemd gives 524,288), and any
//! process may raise its soft limit up to it; vmaild does at start, and
//! says so when even the hard limit is short for its configuration.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tracing::{info, warn};

/// Descriptors a session may hold: its batch's message files, its
/// connection, the job log and folder being written when a job settles.
const PER_SESSION: u64 = crate::scheduler::MAX_BATCH as u64 + 4;
/// The daemon's own: logs, the spool's lock, the watcher, the runtime,
/// the metrics endpoint and its clients.
const FOR_THE_DAEMON: u64 = 64;
/// Where the soft limit stops when the hard one is unlimited: the
/// kernel's default `fs.nr_open`.
const CEILING: u64 = 1 << 20;

/// What a session count needs.
pub fn needed_for(max_connections: usize) -> u64 {
    (max_connections as u64)
        .saturating_mul(PER_SESSION)
        .saturating_add(FOR_THE_DAEMON)
}

/// Raises the soft limit to the hard one, and warns when that is still
/// short of what `max_connections` sessions need. Returns the limit now.
pub fn raise_for(max_connections: usize) -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(CEILING).min(CEILING);
    let mut now = limit.current;
    if limit.current.is_some_and(|soft| soft < hard) {
        let raised = Rlimit {
            current: Some(hard),
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                info!(
                    "open files: limit raised from {} to {hard}",
                    shown(limit.current)
                );
                now = Some(hard);
            }
            Err(err) => warn!(
                "open files: cannot raise the limit of {} to {hard}: {err}",
                shown(limit.current)
            ),
        }
    }
    let needed = needed_for(max_connections);
    if now.is_some_and(|soft| soft < needed) {
        warn!(
            "open files: max-connections = {max_connections} needs about {needed} open files, \
             and the limit is {}: jobs of a large backlog will wait for a retry; raise \
             LimitNOFILE in the service unit or lower max-connections",
            shown(now)
        );
    }
    now
}

fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}
