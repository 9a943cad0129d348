//! `vfxadmin queue`: list, show, retry, hold, release and delete jobs.
//! Changes go through the spool's atomic state rewrite, which a running
//! vmaild notices at once (it watches `queue/`).

use crate::finished::{self, Found, Where};
use crate::setup;
use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};
use vmail_core::JobId;
use vmail_spool::{JobState, QueuedJob, Spool, format_time};

#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub action: QueueAction,
}

#[derive(Debug, Subcommand)]
pub enum QueueAction {
    /// List the queued jobs: id, age, attempts, next try, recipients, last reply.
    /// The list streams: a queue of a million jobs starts printing at once
    /// and is never held in memory whole. Jobs come oldest first within
    /// each block of 4,096 names read from queue/ (a smaller queue is all
    /// oldest first); the columns line up within each 256 lines
    List {
        /// Print JSON (an array of jobs) instead of a table
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        filter: ListFilter,
    },
    /// Show one job (queued, sent or failed): envelope, state, size and its log
    Show {
        /// The job id, as `vfxadmin queue list` shows it
        id: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Make a job due now, releasing it if held; or, with --all, every job
    /// that is not held (as Postfix's flush)
    Retry {
        /// The job id, as `vfxadmin queue list` shows it (or --all)
        id: Option<String>,
        /// Every queued job except held ones
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// With --all: release held jobs too
        #[arg(long, requires = "all")]
        include_held: bool,
    },
    /// Hold a job: vmaild leaves it alone until it is released
    Hold {
        /// The job id, as `vfxadmin queue list` shows it
        id: String,
    },
    /// Release a held job
    Release {
        /// The job id, as `vfxadmin queue list` shows it
        id: String,
    },
    /// Delete a queued job (its log stays, and says who deleted it)
    Delete {
        /// The job id, as `vfxadmin queue list` shows it
        id: String,
    },
}

/// Which queued jobs `queue list` prints; the filters combine (all must hold).
#[derive(Debug, Clone, Default, Args)]
pub struct ListFilter {
    /// Stop after this many jobs
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only held jobs
    #[arg(long)]
    pub held: bool,
    /// Only deferred jobs: tried at least once, not held
    #[arg(long)]
    pub deferred: bool,
    /// Only jobs queued longer ago than this: seconds, or a number with
    /// s, m, h or d (`2h`, `3d`)
    #[arg(long, value_name = "AGE", value_parser = vmail_config::parse_duration)]
    pub older_than: Option<Duration>,
}

impl ListFilter {
    fn admits(&self, job: &QueuedJob, now: SystemTime) -> bool {
        let state = &job.state;
        (!self.held || state.held)
            && (!self.deferred || (state.attempts > 0 && !state.held))
            && self.older_than.is_none_or(|age| {
                now.duration_since(state.first_queued)
                    .is_ok_and(|queued| queued > age)
            })
    }

    fn is_empty(&self) -> bool {
        !self.held && !self.deferred && self.older_than.is_none()
    }
}

pub fn run(config_path: Option<&Path>, args: &QueueArgs) -> anyhow::Result<ExitCode> {
    let config = setup::load_config(config_path)?;
    let spool = setup::open_spool(&config)?;
    match &args.action {
        QueueAction::List { json, filter } => list(&spool, *json, filter),
        QueueAction::Show { id, json } => show(&spool, &parse_id(id)?, *json),
        QueueAction::Retry { id: Some(id), .. } => change(&spool, id, Admin::Retry),
        QueueAction::Retry {
            id: None,
            all: true,
            include_held,
        } => retry_all(&spool, *include_held),
        QueueAction::Retry { id: None, .. } => Err(anyhow!(
            "queue retry needs a job id (as `vfxadmin queue list` shows it), or --all for every \
             job that is not held (--all --include-held releases held jobs too)"
        )),
        QueueAction::Hold { id } => change(&spool, id, Admin::Hold),
        QueueAction::Release { id } => change(&spool, id, Admin::Release),
        QueueAction::Delete { id } => change(&spool, id, Admin::Delete),
    }
}

/// An administrator's change to one job, done by the spool under the
/// job's lock and then written to the job's log with who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admin {
    Hold,
    Release,
    Retry,
    Delete,
}

impl Admin {
    fn apply(self, spool: &Spool, id: &JobId) -> Result<(), vmail_spool::SpoolError> {
        match self {
            Admin::Hold => spool.hold(id).map(drop),
            Admin::Release => spool.release(id).map(drop),
            Admin::Retry => spool.retry_now(id).map(drop),
            Admin::Delete => spool.delete(id),
        }
    }

    /// What `vfxadmin` prints after the id.
    fn done(self) -> &'static str {
        match self {
            Admin::Hold => "held",
            Admin::Release => "released",
            Admin::Retry => "due now",
            Admin::Delete => "deleted",
        }
    }

    /// The subcommand, as the log names it.
    fn command(self) -> &'static str {
        match self {
            Admin::Hold => "hold",
            Admin::Release => "release",
            Admin::Retry => "retry",
            Admin::Delete => "delete",
        }
    }
}

fn parse_id(id: &str) -> anyhow::Result<JobId> {
    JobId::parse(id).map_err(|e| anyhow!("{e}"))
}

fn change(spool: &Spool, id: &str, action: Admin) -> anyhow::Result<ExitCode> {
    let id = parse_id(id)?;
    // A job deleted before vmaild's first attempt has its submitter's line
    // only in the queue entry: keep it for the log that outlives the job.
    let note = match action {
        Admin::Delete => spool.load(&id).ok().and_then(|job| job.note),
        _ => None,
    };
    action.apply(spool, &id).map_err(|e| anyhow!("{e}"))?;
    if let Some(note) = note
        && spool.read_job_log(&id).is_ok_and(|log| log.is_empty())
        && let Err(e) = spool
            .job_log(&id)
            .and_then(|mut log| log.append_stamped(&note))
    {
        eprintln!("vfxadmin: warning: {id}: its submission line is not in its log: {e}");
    }
    audit(spool, &id, action);
    println!("{id}: {}", action.done());
    Ok(ExitCode::SUCCESS)
}

/// Every job due now, except held ones unless `include_held`: a held job
/// was held on purpose, and Postfix's flush never releases one either.
fn retry_all(spool: &Spool, include_held: bool) -> anyhow::Result<ExitCode> {
    let (mut count, mut held) = (0, 0);
    // Streamed: a million ids are never held at once. The state records
    // this writes are no job names, so the walk meets each job once.
    for id in spool.queue_ids().map_err(|e| anyhow!("{e}"))? {
        let id = id.map_err(|e| anyhow!("{e}"))?;
        // Read outside the lock: a job held in the moment between this
        // read and the retry is released, as `retry ID` would do.
        match spool.state(&id) {
            Ok(state) if state.held && !include_held => {
                held += 1;
                continue;
            }
            Ok(_) => {}
            Err(e) if e.is_unknown_job() => continue, // delivered meanwhile
            Err(e) => return Err(anyhow!("{e}")),
        }
        match spool.retry_now(&id) {
            Ok(_) => {
                count += 1;
                audit(spool, &id, Admin::Retry);
            }
            Err(e) if e.is_unknown_job() => {} // delivered meanwhile
            Err(e) => return Err(anyhow!("{e}")),
        }
    }
    match held {
        0 => println!("{count} job(s) due now"),
        n => println!(
            "{count} job(s) due now; {n} held job(s) left held (--include-held releases them too)"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The line an administrator's change leaves in the job's log:
/// `held by uid 0 (root) with vfxadmin queue hold`.
/// Under sudo, root's line also names who ran sudo (`SUDO_USER`, which
/// only root's own environment could fake).
fn audit_line(action: Admin, uid: Option<u32>, sudo_user: Option<&str>) -> String {
    let who = match (uid, sudo_user) {
        (Some(0), Some(by)) if !by.is_empty() => format!("uid 0 (root, through sudo by {by})"),
        (Some(uid), _) => match vmail_spool::user_name(uid) {
            Some(name) => format!("uid {uid} ({name})"),
            None => format!("uid {uid}"),
        },
        (None, _) => "an unknown uid".to_string(),
    };
    let what = action.done().replace("due now", "made due now");
    let mut line = format!("{what} by {who} with vfxadmin queue {}", action.command());
    if action == Admin::Delete {
        line.push_str(DELETED_TAIL);
    }
    line
}

/// How a deleted job's log ends; `queue show` recognises it by this.
const DELETED_TAIL: &str = ": the job is gone from the queue, this log stays";

/// Writes the audit line; the change is made, so a log that cannot be
/// written is a warning, not a failure.
fn audit(spool: &Spool, id: &JobId, action: Admin) {
    let sudo_user = std::env::var("SUDO_USER").ok();
    let line = audit_line(action, setup::uid(), sudo_user.as_deref());
    if let Err(e) = spool.job_log(id).and_then(|mut log| log.append(&line)) {
        eprintln!(
            "vfxadmin: warning: {id}: {} (not written to its log: {e})",
            action.done()
        );
    }
}

/// Names read from `queue/` per block, sorted, then loaded and printed in
/// pieces of [`LIST_PIECE`] before the next block is read: what bounds the
/// memory of a listing, and the wait for its first line.
const LIST_BLOCK: usize = 4_096;
const LIST_PIECE: usize = 256;

/// Every queued job, piece by piece (see [`LIST_BLOCK`]); a corrupt entry
/// is reported on stderr, after `program`'s name, and skipped. `each` gets
/// each piece's jobs and returns `false` to stop.
pub(crate) fn for_each_block(
    spool: &Spool,
    program: &str,
    mut each: impl FnMut(Vec<QueuedJob>) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let mut ids = spool.queue_ids().map_err(|e| anyhow!("{e}"))?;
    loop {
        let mut block = Vec::with_capacity(LIST_BLOCK);
        for id in ids.by_ref() {
            block.push(id.map_err(|e| anyhow!("{e}"))?);
            if block.len() == LIST_BLOCK {
                break;
            }
        }
        if block.is_empty() {
            return Ok(());
        }
        block.sort_unstable();
        for piece in block.chunks(LIST_PIECE) {
            let mut jobs = Vec::with_capacity(piece.len());
            for id in piece {
                match spool.load(id) {
                    Ok(job) => jobs.push(job),
                    Err(e) if e.is_unknown_job() => {} // delivered meanwhile
                    Err(vmail_spool::SpoolError::Corrupt(corrupt)) => {
                        eprintln!("{program}: warning: corrupt queue entry {corrupt}")
                    }
                    Err(e) => eprintln!("{program}: warning: {id}: {e}"),
                }
            }
            if !each(jobs)? {
                return Ok(());
            }
        }
        if block.len() < LIST_BLOCK {
            return Ok(());
        }
    }
}

/// Prints as it reads: the table piece by piece (each piece's columns as
/// wide as its widest cell), the JSON array element by element, so that
/// the first line comes at once and memory stays one block's worth.
fn list(spool: &Spool, as_json: bool, filter: &ListFilter) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let now = SystemTime::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let limit = filter.limit.unwrap_or(usize::MAX);
    let mut shown = 0;
    if as_json {
        write!(out, "[")?;
    }
    let header = ["ID", "AGE", "TRIES", "NEXT TRY", "RECIPIENTS", "LAST REPLY"].map(String::from);
    let printed = for_each_block(spool, "vfxadmin", |jobs| {
        let jobs: Vec<&QueuedJob> = jobs
            .iter()
            .filter(|job| filter.admits(job, now))
            .take(limit - shown)
            .collect();
        if as_json {
            for job in &jobs {
                let sep = if shown == 0 { "\n" } else { ",\n" };
                let text = serde_json::to_string_pretty(&job_json(job, now))?;
                write!(out, "{sep}  {}", text.replace('\n', "\n  "))?;
                shown += 1;
            }
        } else if !jobs.is_empty() {
            let rows: Vec<[String; 6]> = jobs.iter().map(|j| row(j, now)).collect();
            let text = table(&header, &rows);
            let text = match shown {
                0 => text.as_str(),
                _ => text.split_once('\n').map_or("", |(_, rows)| rows),
            };
            out.write_all(text.as_bytes())?;
            shown += rows.len();
        }
        out.flush()?;
        Ok(shown < limit)
    });
    printed?;
    if as_json {
        writeln!(out, "{}]", if shown == 0 { "" } else { "\n" })?;
    } else if shown == 0 && filter.is_empty() && filter.limit != Some(0) {
        writeln!(out, "The queue of {} is empty.", spool.root().display())?;
    } else if shown == 0 {
        writeln!(out, "No queued job matches.")?;
    } else {
        writeln!(out, "{shown} job(s)")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn row(job: &QueuedJob, now: SystemTime) -> [String; 6] {
    [
        job.id.to_string(),
        age(job.state.first_queued, now),
        job.state.attempts.to_string(),
        next_try(&job.state, now),
        job.envelope.recipients.join(", "),
        last_reply(&job.state),
    ]
}

/// Columns padded to their widest cell; the last column is not padded.
fn table(header: &[String; 6], rows: &[[String; 6]]) -> String {
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 5 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `45s`, `12m`, `3h05m`, `2d04h`.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn age(since: SystemTime, now: SystemTime) -> String {
    span(now.duration_since(since).unwrap_or_default())
}

fn next_try(state: &JobState, now: SystemTime) -> String {
    match (state.held, state.next_due) {
        (true, _) => "held".to_string(),
        (false, None) => "now".to_string(),
        (false, Some(due)) => match due.duration_since(now) {
            Ok(wait) if wait > Duration::ZERO => format!("in {}", span(wait)),
            _ => "now".to_string(),
        },
    }
}

fn last_reply(state: &JobState) -> String {
    match (&state.last_reply, &state.last_reason) {
        (Some(reply), _) => reply.one_line(),
        (None, Some(reason)) => reason.clone(),
        (None, None) => "-".to_string(),
    }
}

/// One job in the manner of Postfix's `mailq`: id (`!` when held), size,
/// arrival, sender; the last reply in parentheses; one line per recipient.
pub fn mailq_entry(job: &QueuedJob) -> String {
    let mark = if job.state.held { "!" } else { "" };
    let arrival =
        chrono::DateTime::<chrono::Local>::from(job.state.first_queued).format("%a %b %e %H:%M:%S");
    let sender = match job.envelope.from.as_str() {
        "" => "MAILER-DAEMON",
        from => from,
    };
    let id = format!("{}{mark}", job.id);
    let mut out = format!(
        "{id:<27} {:>8} {arrival}  {sender}
",
        job.size
    );
    let reply = last_reply(&job.state);
    if reply != "-" {
        out.push_str(&format!(
            "{:indent$}({reply})
",
            "",
            indent = 48
        ));
    }
    for rcpt in &job.envelope.recipients {
        out.push_str(&format!("{:indent$}{rcpt}\n", "", indent = 57));
    }
    out.push('\n');
    out
}

fn state_json(state: &JobState) -> Value {
    json!({
        "attempts": state.attempts,
        "first_queued": format_time(state.first_queued),
        "next_due": state.next_due.map(format_time),
        "held": state.held,
        "last_reply": state.last_reply.as_ref().map(|r| json!({
            "code": r.code,
            "enhanced": r.enhanced.map(|e| e.to_string()),
            "text": r.text,
        })),
        "last_reason": state.last_reason,
    })
}

fn job_json(job: &QueuedJob, now: SystemTime) -> Value {
    json!({
        "id": job.id.as_str(),
        "from": job.envelope.from,
        "recipients": job.envelope.recipients,
        "size": job.size,
        "age_seconds": now.duration_since(job.state.first_queued).unwrap_or_default().as_secs(),
        "state": state_json(&job.state),
    })
}

fn show(spool: &Spool, id: &JobId, as_json: bool) -> anyhow::Result<ExitCode> {
    let found = match finished::find(spool, id) {
        Ok(found) => found,
        Err(not_found) => return show_deleted(spool, id, as_json, not_found),
    };
    let mut log = spool.read_job_log(id).map_err(|e| anyhow!("{e}"))?;
    // Before vmaild's first attempt the submitter's line is only in the
    // queue entry: show it where it will be.
    if log.is_empty()
        && let Some(note) = &found.note
    {
        log = format!("{note}\n");
    }
    if as_json {
        let value = json!({
            "id": id.as_str(),
            "where": found.place.name(),
            "path": found.path.display().to_string(),
            "from": found.envelope.from,
            "recipients": found.envelope.recipients,
            "size": found.size,
            "state": found.state.as_ref().map(state_json),
            "log": log.lines().collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", show_text(id, &found, &log, SystemTime::now()));
    }
    Ok(ExitCode::SUCCESS)
}

/// A job that is nowhere in the spool: deleted with `queue delete` when its
/// log says so (then the log is shown), else the error of `find`.
fn show_deleted(
    spool: &Spool,
    id: &JobId,
    as_json: bool,
    not_found: anyhow::Error,
) -> anyhow::Result<ExitCode> {
    let log = spool.read_job_log(id).map_err(|e| anyhow!("{e}"))?;
    let Some(by) = log.lines().rev().find(|line| line.ends_with(DELETED_TAIL)) else {
        return Err(not_found);
    };
    // `2026-...Z deleted by uid 0 (root) with ...: the job is gone ...`
    let by = by
        .split_once(' ')
        .map_or(by, |(_, rest)| rest)
        .trim_end_matches(DELETED_TAIL);
    if as_json {
        let value = json!({
            "id": id.as_str(),
            "where": "deleted",
            "deleted": by,
            "log": log.lines().collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("Job:         {id}\nWhere:       deleted ({by})\n\nLog:\n{log}");
    }
    Ok(ExitCode::SUCCESS)
}

fn show_text(id: &JobId, found: &Found, log: &str, now: SystemTime) -> String {
    let from = match found.envelope.from.as_str() {
        "" => "<> (null sender)",
        from => from,
    };
    let mut out = format!(
        "Job:         {id}\nWhere:       {} ({})\nFrom:        {from}\nTo:          {}\nSize:        {} bytes\n",
        found.place.describe(),
        found.path.display(),
        found.envelope.recipients.join(", "),
        found.size,
    );
    if let Some(state) = &found.state {
        let queued = format_time(state.first_queued);
        out.push_str(&format!(
            "Queued:      {queued} ({} ago)\nAttempts:    {}\n",
            age(state.first_queued, now),
            state.attempts
        ));
        if found.place == Where::Queue {
            out.push_str(&format!("Next try:    {}\n", next_try(state, now)));
        }
        out.push_str(&format!("Last reply:  {}\n", last_reply(state)));
        if let (Some(_), Some(reason)) = (&state.last_reply, &state.last_reason) {
            out.push_str(&format!("Why:         {reason}\n"));
        }
    }
    match log {
        "" => out.push_str("\nLog:         (empty)\n"),
        log => out.push_str(&format!("\nLog:\n{log}")),
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_line_names_the_uid_and_the_command() {
        assert_eq!(
            audit_line(Admin::Hold, Some(0), None),
            "held by uid 0 (root) with vfxadmin queue hold"
        );
        assert_eq!(
            audit_line(Admin::Release, Some(0), Some("ann")),
            "released by uid 0 (root, through sudo by ann) with vfxadmin queue release"
        );
        assert_eq!(
            audit_line(Admin::Retry, Some(4_000_000_000), Some("ann")),
            "made due now by uid 4000000000 with vfxadmin queue retry"
        );
        assert_eq!(
            audit_line(Admin::Delete, None, None),
            "deleted by an unknown uid with vfxadmin queue delete: the job is gone from the queue, this log stays"
        );
    }

    #[test]
    fn spans_are_short() {
        let cases = [(5, "5s"), (90, "1m"), (3900, "1h05m"), (180_000, "2d02h")];
        for (secs, text) in cases {
            assert_eq!(span(Duration::from_secs(secs)), text);
        }
    }

    #[test]
    fn the_table_lines_up() {
        let header =
            ["ID", "AGE", "TRIES", "NEXT TRY", "RECIPIENTS", "LAST REPLY"].map(String::from);
        let rows = [["a-1", "5s", "0", "now", "x@y", "-"].map(String::from)];
        assert_eq!(
            table(&header, &rows),
            "ID   AGE  TRIES  NEXT TRY  RECIPIENTS  LAST REPLY\na-1  5s   0      now       x@y         -\n"
        );
    }
}
