//! `kill -9` at random moments while vmaild delivers to the real Postfix of
//! `tests/run.sh` over STARTTLS and AUTH, restarting it after every kill:
//! no job is lost, and nothing arrives that was not dropped. Duplicates are
//! allowed (a kill between the server's 250 and the state write sends the
//! job again) and counted. One job in three names a recipient Postfix
//! refuses (550) or always defers (450, retried until a `max-lifetime` of
//! 3 s), alone or beside the real one: each of those must bring its sender
//! a failure notice, and no other job may.
//!
//! Every cycle drops a few jobs while the daemon is down (present at start)
//! and a few while it runs (renamed into `in/`, or linked into `queue/` by
//! the spool library as vfx does), then kills it after a random delay drawn
//! to hit each phase: start-up before `ready:` (recovery, the initial scan,
//! the first pickup), just after `ready:` (pickup, first connection), the
//! first session (TLS, AUTH, the first messages), and later batches. The daemon is
//! frozen with SIGSTOP first, so the test can see what the kill interrupts
//! (an open SMTP connection to Postfix, a spool write in `tmp/`) and then
//! SIGKILLed by its PID.
//!
//! `VMAIL_CRASH_KILLS` (default 200) sets the number of kills and
//! `VMAIL_CRASH_SEED` the seed of the delays (printed, so a failure can be
//! replayed; the OS still schedules as it likes). At the end vmaild runs
//! once more until the queue is empty, and the recipient's Maildir is
//! compared with what was dropped: each job is known by the token in its
//! Subject (and, for an `.eml`, by its Message-ID, which must match; a
//! `.job` gets its Message-ID at pickup), each notice by
//! `Undelivered mail: <token>`.
use crate::common::ini::Ini;
use crate::common::real;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vmail_core::Envelope;
use vmail_spool::Spool;
use vmail_testkit::servers::TestServers;

const KILLS_VAR: &str = "VMAIL_CRASH_KILLS";
const SEED_VAR: &str = "VMAIL_CRASH_SEED";
const DEFAULT_KILLS: u64 = 200;
/// How long one start may take to print `ready:`.
const READY_WAIT: Duration = Duration::from_secs(20);
/// How long the last run may take to empty the queue, and Postfix to put
/// every message into the Maildir after that.
const DRAIN_WAIT: Duration = Duration::from_secs(90);
const ARRIVE_WAIT: Duration = Duration::from_secs(60);

/// SplitMix64: small, seedable, and enough to pick delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`low` when the range is empty).
    fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            low
        } else {
            low + self.next() % (high - low)
        }
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.range(low, high))
    }
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
    )
}

/// The jobs of one test run: each carries `crash-<run>-<n>` in its Subject.
struct Dropper {
    spool: PathBuf,
    run: String,
    recipient: String,
    /// A recipient the server refuses with 550 at RCPT.
    refused: String,
    /// A recipient the server answers 450 at RCPT, always: retried until
    /// `max-lifetime`, then failed.
    deferred: String,
    dropped: Vec<String>,
    /// Tokens dropped as `.eml`, whose Message-ID is `<token@...>`.
    emls: HashSet<String>,
    /// Jobs for the refused or the deferred recipient alone: they fail,
    /// and the sender gets a notice instead.
    bounces: HashSet<String>,
    /// Jobs for the recipient and the refused or deferred one: delivered,
    /// and a notice.
    mixed: HashSet<String>,
    /// Submits through the spool library (as vfx does) that returned an
    /// error: the caller knows, so these are not counted as dropped.
    refused_submits: Vec<String>,
    submitted: usize,
    /// The number of the next job.
    next: usize,
}

impl Dropper {
    fn token(&self, n: usize) -> String {
        format!("crash-{}-{n}", self.run)
    }

    /// Drops one job the way the README says: attachments first, then the
    /// file written under a dot-name and renamed in. Mostly `.eml` (some
    /// of 100 kB, so that a kill can land in the middle of DATA), some
    /// `.job` with a binary attachment, and some `.eml` for a refused or a
    /// deferred recipient (alone or beside the real one): their state
    /// records, requeued recipients and notices are written while kills
    /// go on.
    fn drop_one(&mut self, rng: &mut Rng) {
        let n = self.next;
        self.next += 1;
        let token = self.token(n);
        let in_dir = self.spool.join("in");
        let kind = rng.range(0, 13);
        let recipients = match kind {
            3 | 5 => {
                self.bounces.insert(token.clone());
                if kind == 3 {
                    self.refused.clone()
                } else {
                    self.deferred.clone()
                }
            }
            4 | 6 => {
                self.mixed.insert(token.clone());
                let other = if kind == 4 {
                    &self.refused
                } else {
                    &self.deferred
                };
                format!("{}, {other}", self.recipient)
            }
            _ => self.recipient.clone(),
        };
        let (name, text) = match kind {
            0 | 1 => {
                let files = format!("{token}.files");
                fs::create_dir_all(in_dir.join(&files)).unwrap();
                let blob: Vec<u8> = (0..4096u32).map(|i| (i * 31 + n as u32) as u8).collect();
                fs::write(in_dir.join(&files).join("page.pdf"), blob).unwrap();
                let job = format!(
                    "[job]\nto = {rcpt}\nsubject = {token}\nbody = {token}\nattach = {files}/page.pdf\n",
                    rcpt = self.recipient
                );
                (format!("{token}.job"), job)
            }
            kind => {
                let filler = if kind == 2 {
                    "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
                        .repeat(1_500)
                } else {
                    String::new()
                };
                let eml = format!(
                    "From: fax@example.test\nTo: {recipients}\nSubject: {token}\nMessage-ID: <{token}@vmail-test.example.test>\n\n{token}\n{filler}"
                );
                self.emls.insert(token.clone());
                (format!("{token}.eml"), eml)
            }
        };
        if kind == 12 {
            // The way vfx and the sendmail shim queue: written in tmp/,
            // fsynced and hard-linked into queue/ by the spool library,
            // with no drop file at all.
            let envelope = Envelope::new("fax@example.test", vec![self.recipient.clone()]);
            match Spool::open(&self.spool)
                .and_then(|spool| spool.submit(&envelope, text.as_bytes(), u64::MAX))
            {
                Ok(_) => {
                    self.submitted += 1;
                    self.dropped.push(token);
                }
                // vfx would have said so to its user: not a lost job.
                Err(err) => {
                    self.emls.remove(&token);
                    self.refused_submits.push(format!("{token}: {err}"));
                }
            }
            return;
        }
        let temp = in_dir.join(format!(".{name}"));
        fs::write(&temp, text).unwrap();
        fs::rename(&temp, in_dir.join(&name)).unwrap();
        self.dropped.push(token);
    }
}

/// One run of the real vmaild; its log is read from where it started.
struct Vmaild {
    child: Child,
    started: Instant,
    log_path: PathBuf,
    log_from: u64,
}

/// What a frozen vmaild was doing when it was killed.
#[derive(Default, Debug)]
struct Seen {
    ready: bool,
    smtp_connections: usize,
    spool_writes: usize,
    /// What this run's start-up repaired of the kill before, from its
    /// `starting on ...: N jobs queued; repaired: ...` line: temp files
    /// removed, states moved after their message, orphan states removed.
    repaired: Option<[usize; 3]>,
}

/// The counts of the repairs that vmaild logs at start, in words.
fn recovery_counts(log: &str) -> Option<[usize; 3]> {
    let line = log.lines().find(|l| l.contains(" starting on "))?;
    let count = |what: &str| -> usize {
        line.split(", ")
            .flat_map(|part| part.rsplit(": ").next())
            .find(|part| part.contains(what))
            .and_then(|part| part.split(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    Some([
        count("from tmp/"),
        count("moved after"),
        count("without a job removed"),
    ])
}

impl Vmaild {
    fn spawn(dir: &Path) -> Vmaild {
        let log_path = dir.join("spool/logs/vmail");
        let log_from = fs::metadata(&log_path).map_or(0, |m| m.len());
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(dir.join("vmaild.stderr"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vmaild"))
            .arg("--config")
            .arg(dir.join("vsisrv.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Vmaild {
            child,
            started: Instant::now(),
            log_path,
            log_from,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// This run's part of the daemon log (all of it after a rotation).
    fn log(&self) -> String {
        let Ok(mut file) = File::open(&self.log_path) else {
            return String::new();
        };
        let len = file.metadata().map_or(0, |m| m.len());
        let from = if len < self.log_from {
            0
        } else {
            self.log_from
        };
        let mut text = String::new();
        let _ = file.seek(SeekFrom::Start(from));
        let _ = file.read_to_string(&mut text);
        text
    }

    fn is_ready(&self) -> bool {
        self.log().contains("ready:")
    }

    /// Panics when vmaild has exited by itself: nothing but this test
    /// stops it, so an exit is a crash or a refusal to start.
    fn assert_running(&mut self, stderr: &Path) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "vmaild (pid {}) exited by itself with {status}\n--- its log:\n{}\n--- stderr (all runs), last part:\n{}",
                self.pid(),
                self.log(),
                tail(&fs::read_to_string(stderr).unwrap_or_default(), 4000)
            );
        }
    }

    /// Waits, bounded, for `ready:` in this run's log; returns how long
    /// after the start it came.
    fn wait_ready(&mut self, stderr: &Path) -> Duration {
        let deadline = self.started + READY_WAIT;
        while !self.is_ready() {
            self.assert_running(stderr);
            assert!(
                Instant::now() < deadline,
                "vmaild (pid {}) printed no `ready:` within {READY_WAIT:?}\n{}",
                self.pid(),
                self.log()
            );
            sleep(Duration::from_millis(2));
        }
        self.started.elapsed()
    }

    /// SIGSTOP, a look at what it was doing, SIGKILL, reaped: the look
    /// sees exactly the state the kill interrupts.
    fn freeze_and_kill(mut self, spool: &Path, smtp_port: u16, stderr: &Path) -> Seen {
        self.assert_running(stderr);
        let pid = self.pid();
        let stopped = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(stopped.success(), "kill -STOP {pid} failed");
        let seen = Seen {
            ready: self.is_ready(),
            smtp_connections: established_connections(pid, smtp_port),
            spool_writes: names(&spool.join("tmp")).len(),
            repaired: recovery_counts(&self.log()),
        };
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        seen
    }

    /// SIGTERM by PID, then a bounded wait for the exit.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.pid();
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "vmaild {pid} did not stop within 30 s\n{}",
                self.log()
            );
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Vmaild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// TCP connections of process `pid` established to local port `port`:
/// its socket inodes matched against /proc/net/tcp.
fn established_connections(pid: u32, port: u16) -> usize {
    let mut inodes = HashSet::new();
    if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                inodes.insert(inode.to_string());
            }
        }
    }
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            fields.len() > 9
                && fields[2].ends_with(&remote)
                && fields[3] == "01"
                && inodes.contains(fields[9])
        })
        .count()
}

/// The names in a folder (none when it is missing).
fn names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Subject and Message-ID of a delivered file, from its header section.
fn subject_and_id(path: &Path) -> Option<(String, Option<String>)> {
    let bytes = fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut subject = None;
    let mut id = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("subject") {
                subject = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("message-id") {
                id = Some(value.trim().trim_matches(['<', '>']).to_string());
            }
        }
    }
    Some((subject?, id))
}

/// Every delivered message of this run in `maildir`: token -> Message-IDs,
/// one per delivered copy.
fn delivered(maildir: &Path, prefix: &str) -> BTreeMap<String, Vec<Option<String>>> {
    let mut found: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for sub in ["new", "cur"] {
        for name in names(&maildir.join(sub)) {
            let Some((subject, id)) = subject_and_id(&maildir.join(sub).join(name)) else {
                continue;
            };
            if subject.starts_with(prefix) {
                found.entry(subject).or_default().push(id);
            }
        }
    }
    found
}

/// What Postfix's submission smtpd logged about clients that vanished
/// mid-session, after byte `from` of its log: the last command before the
/// loss (`DATA`, `STARTTLS`, ...) and how often.
fn postfix_lost_connections(servers: &TestServers, from: u64) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    let Ok(mut file) = File::open(&servers.postfix_log) else {
        return found;
    };
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(from));
    let _ = file.read_to_string(&mut text);
    for line in text.lines().filter(|l| l.contains("/submission/smtpd")) {
        if let Some((_, rest)) = line.split_once("lost connection after ") {
            let command = rest.split_whitespace().next().unwrap_or("?").to_string();
            *found.entry(command).or_insert(0) += 1;
        }
    }
    found
}

/// For a failure message: where each job carrying `token` is in the spool
/// (its folder, and the end of its log).
fn whereabouts(spool: &Path, tokens: &[&&String]) -> String {
    let mut out = String::new();
    for token in tokens.iter().take(5) {
        let subject = format!("Subject: {token}\n");
        for folder in ["queue", "sent", "failed"] {
            for id in real::jobs_in(spool, folder) {
                let text = fs::read(spool.join(folder).join(&id)).unwrap_or_default();
                let text = String::from_utf8_lossy(&text).replace("\r\n", "\n");
                if text.contains(&subject) {
                    let log = real::job_log(spool, &id);
                    out.push_str(&format!(
                        "--- {token}: job {id} in {folder}/, its log ends:\n{}\n",
                        tail(&log, 1500)
                    ));
                }
            }
        }
    }
    out
}

fn jobs_left(spool: &Path) -> (usize, usize) {
    let queued = real::jobs_in(spool, "queue").len();
    let drops = names(&spool.join("in"))
        .iter()
        .filter(|n| !n.starts_with('.') && (n.ends_with(".eml") || n.ends_with(".job")))
        .count();
    (queued, drops)
}

#[test]
fn kill_dash_nine_at_random_moments_loses_no_job() {
    let started = Instant::now();
    let servers = real::servers();
    let kills = env_number(KILLS_VAR).unwrap_or(DEFAULT_KILLS);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seed = env_number(SEED_VAR).unwrap_or(nanos ^ u64::from(std::process::id()));
    eprintln!(
        "crash test: {kills} kills, seed {seed} (replay: {SEED_VAR}={seed} {KILLS_VAR}={kills})"
    );
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    Ini::submission(&servers)
        // A deferred recipient fails within seconds, so its notice comes
        // while kills go on.
        .with("retry-min = 1s\nretry-max = 2s\nmax-lifetime = 3s")
        .write(dir.path());
    let spool = dir.path().join("spool");
    fs::create_dir_all(spool.join("in")).unwrap();
    let stderr = dir.path().join("vmaild.stderr");
    let run = format!("{}.{nanos}", std::process::id());
    let mut dropper = Dropper {
        spool: spool.clone(),
        recipient: format!("crash.{run}@example.test"),
        refused: servers.reject_rcpt.clone(),
        deferred: servers.defer_rcpt.clone(),
        run,
        dropped: Vec::new(),
        emls: HashSet::new(),
        bounces: HashSet::new(),
        mixed: HashSet::new(),
        refused_submits: Vec::new(),
        submitted: 0,
        next: 0,
    };
    let postfix_log_from = fs::metadata(&servers.postfix_log).map_or(0, |m| m.len());

    let (mut before_ready, mut in_session, mut writing) = (0usize, 0usize, 0usize);
    // Start-ups that found a kill's leftovers: [tmp/ files, states, orphans].
    let mut repairs = [0usize; 3];
    let mut dropped_while_down = 0usize;
    let mut ready_times = Vec::new();
    for _ in 0..kills {
        // At least one job per cycle, so that every kill has work to
        // interrupt (this one, or what earlier kills left queued).
        for _ in 0..rng.range(1, 3) {
            dropper.drop_one(&mut rng);
            dropped_while_down += 1;
        }
        let mut vmaild = Vmaild::spawn(dir.path());
        let phase = rng.range(0, 100);
        if phase < 10 {
            // Start-up: lock, recovery, the initial scan, the first pickup
            // (`ready:` comes some 15-25 ms after the start here).
            sleep(rng.millis(0, 20));
        } else {
            ready_times.push(vmaild.wait_ready(&stderr));
            let delay = match phase {
                10..35 => rng.millis(0, 10),   // pickup, first connection
                35..70 => rng.millis(10, 120), // TLS, AUTH, first messages
                _ => rng.millis(120, 450),     // later messages and batches
            };
            let first = delay.mul_f64(rng.range(0, 100) as f64 / 100.0);
            sleep(first);
            for _ in 0..rng.range(0, 3) {
                dropper.drop_one(&mut rng);
            }
            sleep(delay.saturating_sub(first));
        }
        let seen = vmaild.freeze_and_kill(&spool, servers.submission_port, &stderr);
        before_ready += usize::from(!seen.ready);
        in_session += usize::from(seen.smtp_connections > 0);
        writing += usize::from(seen.spool_writes > 0);
        for (total, count) in repairs.iter_mut().zip(seen.repaired.unwrap_or_default()) {
            *total += usize::from(count > 0);
        }
    }
    let kill_phase = started.elapsed();

    // The last run: it must empty the queue and the drop folder.
    let mut last = Vmaild::spawn(dir.path());
    last.wait_ready(&stderr);
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let (queued, drops) = jobs_left(&spool);
        if queued == 0 && drops == 0 {
            break;
        }
        last.assert_running(&stderr);
        assert!(
            Instant::now() < deadline,
            "after the kills, {queued} job(s) still queued and {drops} drop(s) in in/ after {DRAIN_WAIT:?}\n{}",
            tail(&last.log(), 8000)
        );
        sleep(Duration::from_millis(50));
    }
    let prefix = dropper.token(0);
    let prefix = &prefix[..prefix.len() - 1];
    let maildir = servers.maildir_of(&dropper.recipient);
    // The sender's notices: `Undelivered mail: <token>`.
    let notice_prefix = format!("Undelivered mail: {prefix}");
    let sender_maildir = servers.maildir_of("fax@example.test");
    let wanted: BTreeSet<&String> = dropper
        .dropped
        .iter()
        .filter(|token| !dropper.bounces.contains(*token))
        .collect();
    let noticed: BTreeSet<&String> = dropper.bounces.iter().chain(&dropper.mixed).collect();
    let deadline = Instant::now() + ARRIVE_WAIT;
    let (arrived, notices, notice_ids) = loop {
        let arrived = delivered(&maildir, prefix);
        let found = delivered(&sender_maildir, &notice_prefix);
        let token = |subject: &String| subject[notice_prefix.len() - prefix.len()..].to_string();
        let notices: BTreeMap<String, usize> = found
            .iter()
            .map(|(subject, ids)| (token(subject), ids.len()))
            .collect();
        // The notice messages each job got, by Message-ID: copies of one
        // notice are a delivery resent after a kill (counted with the
        // duplicates); two Message-IDs would be two notices queued.
        let notice_ids: BTreeMap<String, BTreeSet<Option<String>>> = found
            .iter()
            .map(|(subject, ids)| (token(subject), ids.iter().cloned().collect()))
            .collect();
        let complete = wanted.iter().all(|token| arrived.contains_key(*token))
            && noticed.iter().all(|token| notices.contains_key(*token));
        if complete || Instant::now() >= deadline {
            break (arrived, notices, notice_ids);
        }
        sleep(Duration::from_millis(100));
    };
    assert!(
        last.stop().success(),
        "the last vmaild did not stop cleanly"
    );
    let elapsed = started.elapsed();

    let lost: Vec<&&String> = wanted
        .iter()
        .filter(|token| !arrived.contains_key(**token))
        .collect();
    let strangers: Vec<&String> = arrived
        .keys()
        .filter(|token| !wanted.contains(token))
        .collect();
    let notices_lost: Vec<&&String> = noticed
        .iter()
        .filter(|token| !notices.contains_key(**token))
        .collect();
    let unexpected_notices: Vec<&String> = notices
        .keys()
        .filter(|token| !noticed.contains(token))
        .collect();
    let notice_copies: usize = notices.values().sum();
    let wrong_ids: Vec<String> = arrived
        .iter()
        .filter(|(token, _)| dropper.emls.contains(*token))
        .flat_map(|(token, ids)| {
            let expected = format!("{token}@vmail-test.example.test");
            ids.iter()
                .filter(move |id| id.as_deref() != Some(expected.as_str()))
                .map(move |id| format!("{token}: {id:?}"))
        })
        .collect();
    let copies: usize = arrived.values().map(Vec::len).sum();
    // (job number, copies), in the order the jobs were dropped.
    let mut duplicates: Vec<(usize, usize)> = arrived
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .filter_map(|(token, ids)| Some((token.rsplit('-').next()?.parse().ok()?, ids.len())))
        .collect();
    duplicates.sort();
    let lost_after = postfix_lost_connections(&servers, postfix_log_from);
    let lost_by_postfix: usize = lost_after.values().sum();
    let leftovers: Vec<String> = names(&spool.join("in"))
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    eprintln!(
        "crash test: seed {seed}; {kills} kills ({before_ready} before `ready:`, {in_session} with an SMTP session open to Postfix, {writing} with a spool write in tmp/; at start vmaild removed temp files {} times, finished {} moves, removed orphan states {} times); \
         {} jobs dropped ({dropped_while_down} while vmaild was down, {} for a refused or deferred recipient alone, {} for one of those and the real one, {} linked into queue/ as vfx does, {} such submits refused); {copies} messages delivered, {} distinct, {} jobs delivered more than once ({} extra copies); \
         {notice_copies} failure notices for {} jobs; \
         Postfix logged {lost_by_postfix} lost connections {lost_after:?}; vmaild was ready {} after its start (median, max {}); kills took {:.1}s, the whole test {:.1}s",
        repairs[0],
        repairs[1],
        repairs[2],
        dropper.dropped.len(),
        dropper.bounces.len(),
        dropper.mixed.len(),
        dropper.submitted,
        dropper.refused_submits.len(),
        arrived.len(),
        duplicates.len(),
        copies - arrived.len(),
        notices.len(),
        format_args!("{:?}", median(&mut ready_times)),
        format_args!("{:?}", ready_times.last().copied().unwrap_or_default()),
        kill_phase.as_secs_f64(),
        elapsed.as_secs_f64(),
    );
    if !duplicates.is_empty() {
        eprintln!(
            "crash test: duplicates (job number x copies): {}",
            duplicates
                .iter()
                .map(|(n, copies)| format!("#{n} x{copies}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // Warnings vmaild logged over all runs, by kind (ids left out).
    let mut warnings: BTreeMap<String, usize> = BTreeMap::new();
    for rotated in ["vmail", "vmail.1", "vmail.2", "vmail.3"] {
        let text = fs::read_to_string(spool.join("logs").join(rotated)).unwrap_or_default();
        for line in text.lines().filter(|l| l.contains(" WARN ")) {
            let message = line.split_once(": ").map_or(line, |(_, m)| m);
            let kind: String = message
                .split_whitespace()
                .take(6)
                .collect::<Vec<_>>()
                .join(" ");
            *warnings.entry(kind).or_insert(0) += 1;
        }
    }
    eprintln!("crash test: vmaild warnings by kind: {warnings:?}");
    if !dropper.refused_submits.is_empty() {
        eprintln!(
            "crash test: submits refused: {}",
            dropper.refused_submits.join("; ")
        );
    }
    if !leftovers.is_empty() {
        eprintln!("crash test: left in in/: {}", leftovers.join(", "));
    }
    assert!(
        lost.is_empty(),
        "{} of {} jobs never arrived (seed {seed}): {lost:?}\nqueue: {:?}\nfailed: {:?}\nquarantine: {:?}\n{}",
        lost.len(),
        wanted.len(),
        real::jobs_in(&spool, "queue"),
        names(&spool.join("failed")),
        names(&spool.join("quarantine")),
        whereabouts(&spool, &lost),
    );
    assert!(
        strangers.is_empty(),
        "messages arrived that were never dropped (seed {seed}): {strangers:?}"
    );
    assert!(
        wrong_ids.is_empty(),
        "an .eml arrived with another Message-ID (seed {seed}): {wrong_ids:?}"
    );
    assert!(
        notices_lost.is_empty(),
        "{} of {} jobs with a refused or deferred recipient never got a failure notice to the sender (seed {seed}): {notices_lost:?} (of them for that recipient alone: {:?})\n{}",
        notices_lost.len(),
        noticed.len(),
        notices_lost
            .iter()
            .filter(|token| dropper.bounces.contains(token.as_str()))
            .collect::<Vec<_>>(),
        whereabouts(&spool, &notices_lost)
    );
    // Each job is recorded at its own reply, and a notice has an id derived
    // from its job: a kill can resend at most the one message (job or
    // notice) whose 250 was in flight.
    let extra_copies = (copies - arrived.len()) + (notice_copies - notices.len());
    assert!(
        extra_copies as u64 <= kills,
        "{extra_copies} extra copies (jobs and notices) for {kills} kills: more than one per kill (seed {seed}); duplicates {duplicates:?}, notices {notices:?}"
    );
    let twice_noticed: Vec<(&String, usize)> = notice_ids
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(token, ids)| (token, ids.len()))
        .collect();
    eprintln!(
        "crash test: {} distinct failure notices for {} jobs that needed one ({} copies)",
        notice_ids.values().map(BTreeSet::len).sum::<usize>(),
        noticed.len(),
        notice_copies
    );
    assert!(
        twice_noticed.is_empty(),
        "jobs that were sent more than one failure notice (distinct Message-IDs, seed {seed}): {twice_noticed:?}"
    );
    assert!(
        unexpected_notices.is_empty(),
        "failure notices for jobs that had no refused or deferred recipient (seed {seed}): {unexpected_notices:?}"
    );
    assert!(
        names(&spool.join("quarantine")).is_empty(),
        "drops were quarantined (seed {seed}): {:?}",
        names(&spool.join("quarantine"))
    );
    let stderr_text = fs::read_to_string(&stderr).unwrap_or_default();
    assert!(
        !stderr_text.contains("panicked"),
        "vmaild panicked (seed {seed}):\n{}",
        tail(&stderr_text, 4000)
    );
    // The point of the test is kills during delivery: at least one in ten
    // must have found a connection to Postfix open, and Postfix must have
    // seen clients vanish mid-session.
    assert!(
        in_session as u64 * 10 >= kills,
        "only {in_session} of {kills} kills landed during an SMTP session (seed {seed})"
    );
    assert!(
        kills < 10 || lost_by_postfix > 0,
        "Postfix logged no lost connection in {kills} kills (seed {seed})"
    );
    // The other phases, where a default run (200 kills) meets each of them
    // some 10 to 50 times: start-up, a spool write under way, and the gap
    // between a server's 250 and the job's move to sent/ (a duplicate).
    if kills >= 100 {
        assert!(
            before_ready > 0,
            "no kill landed before `ready:` (seed {seed})"
        );
        assert!(
            writing > 0,
            "no kill landed during a spool write (seed {seed})"
        );
        assert!(
            !duplicates.is_empty(),
            "no kill landed between a 250 and the move to sent/ (seed {seed})"
        );
    }
}
