//! The real vmaild against the fault-injecting server, one misbehaviour per
//! test: what a server says (or does not say) decides where the job ends,
//! and the server's reply is in the job's log.
//!
//! - 421 greeting, silent banner, 451 to MAIL, 535 to AUTH, a connection
//!   dropped in DATA: the job stays queued, its state names the next
//!   attempt, and that attempt really comes (`retry-min = 1s`).
//! - 550 to the only RCPT: the job is in failed/ and the sender gets
//!   exactly one notice.
//! - EHLO answered 502: HELO, and the job is delivered.
//! - One session hangs in DATA: with two connections, other jobs are still
//!   delivered while it hangs, and the hang ends at `timeout`. A backlog
//!   found at start is split between the sessions: the other session's
//!   share goes during the hang; the jobs behind the hung one in its own
//!   session are deferred as "not tried" and go on their retry. Jobs waiting
//!   for a later retry do not make one session take every due job.
use crate::common::daemon;
use crate::common::ini::Ini;
use crate::common::real;

use daemon::{Daemon, drop_eml, eml, wait_for};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tempfile::TempDir;
use vmail_testkit::fault::{DataBehavior, FaultServer, Script};

const USER: &str = "fax";
const PASSWORD: &str = "Fault.Pass-535";

/// A fault server on its own runtime (so the test thread may block while
/// polling) and a vmaild pointed at it.
struct Rig {
    dir: TempDir,
    server: FaultServer,
    daemon: Option<Daemon>,
    _runtime: tokio::runtime::Runtime,
}

impl Rig {
    /// `extra` is more `[VMAIL]` lines (a key there replaces the default
    /// of [`Ini::fault`]).
    fn start(script: Script, extra: &str) -> Rig {
        Rig::start_with(script, |_| extra.to_string())
    }

    /// As [`Rig::start`], with `extra` made from the test's folder (to seal
    /// a login with the key vmaild will use).
    fn start_with(script: Script, extra: impl FnOnce(&Path) -> String) -> Rig {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(FaultServer::start(script)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let extra = extra(dir.path());
        let daemon = Ini::fault(server.port()).with(&extra).start(dir.path());
        Rig {
            dir,
            server,
            daemon: Some(daemon),
            _runtime: runtime,
        }
    }

    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        wait_for(what, done, || self.show());
    }

    /// What a failed wait or assertion shows: see [`real::show`].
    fn show(&self) -> String {
        real::show(&self.spool())
    }

    /// The job ids in `folder` (`queue`, `sent`, `failed`).
    fn jobs(&self, folder: &str) -> Vec<String> {
        real::jobs_in(&self.spool(), folder)
    }

    /// Whether the log of a job in `queue/` contains `text`.
    fn a_queued_log_contains(&self, text: &str) -> bool {
        self.jobs("queue")
            .iter()
            .any(|id| self.job_log(id).contains(text))
    }

    /// Drops one .eml and waits until it is a job; returns its id.
    fn drop_one(&self, name: &str, text: &str) -> String {
        let before = self.all_jobs();
        drop_eml(&self.spool(), name, text);
        let mut id = None;
        self.wait_for(&format!("{name} to become a job"), || {
            id = self.all_jobs().into_iter().find(|id| !before.contains(id));
            id.is_some()
        });
        id.unwrap()
    }

    fn all_jobs(&self) -> Vec<String> {
        ["queue", "sent", "failed"]
            .iter()
            .flat_map(|folder| self.jobs(folder))
            .collect()
    }

    fn job_log(&self, id: &str) -> String {
        real::job_log(&self.spool(), id)
    }

    fn state(&self, id: &str) -> String {
        std::fs::read_to_string(self.spool().join("queue").join(format!("{id}.state")))
            .unwrap_or_default()
    }

    fn assert_state_contains(&self, id: &str, text: &str) {
        let state = self.state(id);
        assert!(state.contains(text), "{state}");
    }

    /// Queues `count` messages to ann@example.test straight into the spool
    /// (subjects `{tag}-1`, `{tag}-2`, ...), as a backlog for the next
    /// start; their job ids.
    fn queue(&self, tag: &str, count: usize) -> Vec<vmail_core::JobId> {
        let spool = vmail_spool::Spool::open(self.spool()).unwrap();
        let envelope =
            vmail_core::Envelope::new("fax@example.test", vec!["ann@example.test".into()]);
        (1..=count)
            .map(|n| {
                let text = eml(&format!("{tag}-{n}"));
                spool.submit(&envelope, text.as_bytes(), u64::MAX).unwrap()
            })
            .collect()
    }

    /// Starts vmaild again after [`Rig::stop`].
    fn restart(&mut self) {
        self.daemon = Some(Daemon::start(self.dir.path()));
    }

    /// Stops vmaild by its PID and checks it exited cleanly.
    fn stop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            let log = daemon.log();
            let status = daemon.stop();
            assert_eq!(status.code(), Some(0), "{log}");
        }
    }
}

/// The job met `expect` on its first attempt, then stayed queued: the state
/// names the next attempt, and the second attempt really came (a second
/// connection and `attempt 2` in the log). Returns the job's log.
fn assert_deferred_and_retried(rig: &mut Rig, id: &str, expect: &str) -> String {
    rig.wait_for("a second attempt", || {
        rig.job_log(id).contains("attempt 2 via")
    });
    rig.stop();
    let log = rig.job_log(id);
    let first = log.lines().find(|l| l.contains("attempt 1 via")).unwrap();
    assert!(first.contains("deferred: "), "{log}");
    assert!(
        first.contains(expect),
        "`{expect}` not in the attempt line:\n{log}"
    );
    assert!(log.contains("next attempt at "), "{log}");
    assert!(
        !log.contains("status: "),
        "a deferred job got a final status:\n{log}"
    );
    assert_eq!(rig.jobs("queue"), [id]);
    assert!(rig.jobs("sent").is_empty());
    assert!(rig.jobs("failed").is_empty());
    let state = rig.state(id);
    let attempts: u32 = state
        .lines()
        .find_map(|l| l.strip_prefix("attempts="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(attempts >= 2, "{state}");
    assert!(state.contains("next-due="), "no retry scheduled:\n{state}");
    assert!(rig.server.connections() >= 2, "the retry never connected");
    log
}

/// A rig on `script`, one .eml (subject `subject`) dropped, and
/// [`assert_deferred_and_retried`] with `expect`: the rig and the job id.
fn one_deferred_job(script: Script, subject: &str, expect: &str) -> (Rig, String) {
    let mut rig = Rig::start(script, "");
    let id = rig.drop_one("a.eml", &eml(subject));
    assert_deferred_and_retried(&mut rig, &id, expect);
    (rig, id)
}

#[test]
fn a_421_greeting_keeps_the_job_queued_for_a_retry() {
    let (rig, id) = one_deferred_job(
        Script::new().greeting("421 4.3.2 Service not available, closing channel"),
        "greeting-421",
        "(server said: 421 4.3.2 Service not available",
    );
    rig.assert_state_contains(&id, "last-code=421");
    assert!(!rig.server.received("EHLO"));
}

#[test]
fn a_silent_banner_times_out_and_keeps_the_job_queued() {
    let mut rig = Rig::start(Script::new().silent_banner(), "");
    let started = Instant::now();
    let id = rig.drop_one("a.eml", &eml("silent-banner"));
    assert_deferred_and_retried(
        &mut rig,
        &id,
        "no answer from the server within 1.0 s during waiting for the greeting",
    );
    // Two waits of `timeout`, one retry-min between: never the 60 s default.
    assert!(started.elapsed().as_secs() < 15, "{:?}", started.elapsed());
    assert!(
        rig.server.commands().is_empty(),
        "{:?}",
        rig.server.commands()
    );
}

#[test]
fn a_451_to_mail_from_keeps_the_job_queued_for_a_retry() {
    let (rig, id) = one_deferred_job(
        Script::new().mail_reply("451 4.3.0 Temporary lookup failure"),
        "mail-451",
        "(server said: 451 4.3.0 Temporary lookup failure)",
    );
    rig.assert_state_contains(&id, "last-enhanced=4.3.0");
    // DATA may be pipelined behind MAIL and RCPT; no message went.
    assert!(rig.server.messages().is_empty());
}

#[test]
fn a_535_to_auth_keeps_the_job_queued_and_writes_no_secret() {
    let script = Script::new()
        .extensions(&["PIPELINING", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"])
        .auth_reply("535 5.7.8 Error: authentication failed: authentication failure");
    let mut rig = Rig::start_with(script, |dir| {
        let sealed = real::seal(&dir.join("vmail.key"), &format!("{USER}:{PASSWORD}"));
        format!("auth-type = plain\nauth-rsp = {sealed}\nallow-plaintext-auth = yes\ndebug = 2")
    });
    let id = rig.drop_one("a.eml", &eml("auth-535"));
    let log = assert_deferred_and_retried(&mut rig, &id, "535 5.7.8 Error: authentication failed");
    assert!(log.contains(" C: AUTH PLAIN"), "{log}");
    // The table's advice, the words `vfxadmin check` prints for a 535.
    assert!(
        log.contains(
            "note: what to do: enter it again with `vfxadmin config -a -p -e VMAIL auth-rsp`"
        ),
        "{log}"
    );
    assert!(rig.server.received("AUTH PLAIN"));
    assert!(!rig.server.received("MAIL FROM"));
    real::assert_no_secret_under(rig.dir.path(), USER, PASSWORD, "auth-535");
}

#[test]
fn a_connection_dropped_in_data_keeps_the_job_queued_for_a_retry() {
    // A closed socket or a reset, whichever the kernel reports first.
    let (rig, _) = one_deferred_job(
        Script::new().data(DataBehavior::Disconnect),
        "dropped-in-data",
        "during sending the message data",
    );
    assert!(rig.server.messages().is_empty());
}

#[test]
fn a_550_recipient_fails_the_job_with_exactly_one_notice() {
    let mut rig = Rig::start(
        Script::new().rcpt_reply(
            "ann@example.test",
            "550 5.1.1 <ann@example.test>: Recipient address rejected: User unknown",
        ),
        "",
    );
    let id = rig.drop_one("a.eml", &eml("rcpt-550"));
    rig.wait_for("the job in failed/ and an empty queue", || {
        rig.jobs("failed") == [id.as_str()] && rig.jobs("queue").is_empty()
    });
    rig.stop();
    let log = rig.job_log(&id);
    assert!(
        log.contains("(server said: 550 5.1.1 <ann@example.test>: Recipient address rejected"),
        "{log}"
    );
    assert!(log.contains("status: failed"), "{log}");
    // An error over an open session gets its advice too.
    assert!(log.contains("note: what to do: check the address"), "{log}");
    assert_eq!(
        log.matches("failure notice to <fax@example.test>").count(),
        1,
        "{log}"
    );
    // The notice went to the same server, from the null sender, once.
    let null_senders = rig
        .server
        .commands()
        .iter()
        .filter(|c| c.eq_ignore_ascii_case("MAIL FROM:<>") || c.starts_with("MAIL FROM:<> "))
        .count();
    assert_eq!(null_senders, 1, "{:?}", rig.server.commands());
    let messages = rig.server.messages();
    assert_eq!(messages.len(), 1, "only the notice has data");
    let notice = String::from_utf8_lossy(&messages[0]);
    assert!(notice.contains("550 5.1.1"), "{notice}");
    assert!(
        notice.contains("rcpt-550"),
        "the notice does not name the job:\n{notice}"
    );
    assert_eq!(rig.jobs("sent").len(), 1, "the notice");
}

#[test]
fn an_ehlo_502_falls_back_to_helo_and_delivers() {
    let mut rig = Rig::start(Script::new().ehlo_refused(), "debug = 2");
    let id = rig.drop_one("a.eml", &eml("ehlo-502"));
    rig.wait_for("the job in sent/", || rig.jobs("sent") == [id.as_str()]);
    rig.stop();
    let log = rig.job_log(&id);
    assert!(log.contains(" S: 502 5.5.2"), "{log}");
    assert!(log.contains(" C: HELO vmail-test.example.test"), "{log}");
    assert!(
        log.contains("delivered: 250 2.0.0 Ok: queued as FAULT1"),
        "{log}"
    );
    assert!(log.contains("status: delivered"), "{log}");
    let commands = rig.server.commands();
    let ehlo = commands.iter().position(|c| c.starts_with("EHLO")).unwrap();
    let helo = commands.iter().position(|c| c.starts_with("HELO")).unwrap();
    assert!(ehlo < helo, "{commands:?}");
    let messages = rig.server.messages();
    assert_eq!(messages.len(), 1);
    assert!(String::from_utf8_lossy(&messages[0]).contains("Subject: ehlo-502"));
}

/// vmaild has one mail server; what must not happen is that a session stuck
/// on it holds up the queue. With two connections, a session hung in DATA
/// (the server never answers the final dot) leaves the other one free: jobs
/// dropped during the hang are delivered before it ends, and the hung job
/// itself is deferred after `timeout`, not held for ever.
#[test]
fn the_queue_keeps_flowing_while_one_session_hangs_in_data() {
    let mut rig = Rig::start(
        Script::new().stall_message_containing("HANG-ME"),
        "max-connections = 2\ntimeout = 6s\nretry-min = 60s\nretry-max = 60s",
    );
    let hung = rig.drop_one(
        "hang.eml",
        "From: fax@example.test\nTo: ann@example.test\nSubject: hang\n\nHANG-ME\n",
    );
    rig.wait_for("the server to hold the marked message", || {
        rig.server
            .messages()
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("HANG-ME"))
    });
    let hang_began = Instant::now();
    let others: Vec<String> = (1..=3)
        .map(|n| rig.drop_one(&format!("o{n}.eml"), &eml(&format!("other-{n}"))))
        .collect();
    rig.wait_for("the other jobs in sent/", || {
        let sent = rig.jobs("sent");
        others.iter().all(|id| sent.contains(id))
    });
    let delivered_after = hang_began.elapsed();
    // The hung session has not ended: no attempt is recorded for its job.
    assert!(
        !rig.job_log(&hung).contains("attempt 1"),
        "the hang ended before the others were delivered ({delivered_after:?}):\n{}",
        rig.show()
    );
    assert_eq!(rig.jobs("queue"), [hung.as_str()]);
    // Then the hang ends at the timeout, and the job waits for its retry.
    rig.wait_for("the hung attempt to time out", || {
        rig.job_log(&hung).contains("attempt 1 via")
    });
    rig.stop();
    let log = rig.job_log(&hung);
    assert!(
        log.contains(
            "deferred: no answer from the server within 6.0 s during sending the message data"
        ),
        "{log}"
    );
    assert!(log.contains("next attempt at "), "{log}");
    assert_eq!(rig.jobs("queue"), [hung]);
    assert!(rig.server.connections() >= 2);
    let bodies: Vec<String> = rig
        .server
        .messages()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    for n in 1..=3 {
        let subject = format!("Subject: other-{n}");
        assert_eq!(
            bodies.iter().filter(|b| b.contains(&subject)).count(),
            1,
            "{bodies:?}"
        );
    }
}

/// A backlog found at start is shared between the two sessions, three jobs
/// each, and the server hangs on the first message of the first session.
/// The other session delivers its three during the hang. The two jobs
/// behind the hung one in its session are not tried (the connection died
/// before their turn): they are deferred with that reason and go out on
/// their retry, like the hung job's own session would have.
#[test]
fn a_backlog_at_start_flows_past_a_session_that_hangs() {
    let mut rig = Rig::start(
        Script::new().stall_first_connections(1),
        "max-connections = 2\ntimeout = 3s\nretry-min = 2s\nretry-max = 2s",
    );
    rig.stop();
    // Queued while vmaild is stopped, so that the start finds all six at once.
    rig.queue("backlog", 6);
    rig.restart();
    rig.wait_for("three jobs in sent/", || rig.jobs("sent").len() >= 3);
    let timed_out = |rig: &Rig| rig.a_queued_log_contains("no answer from the server");
    assert!(
        !timed_out(&rig),
        "the hang ended before the other session delivered:\n{}",
        rig.show()
    );
    // The server stalls only on the first connection: every retry goes.
    rig.wait_for("all six jobs in sent/", || rig.jobs("sent").len() == 6);
    rig.stop();
    let sent = rig.jobs("sent");
    let hung: Vec<&String> = sent
        .iter()
        .filter(|id| {
            rig.job_log(id)
                .contains("deferred: no answer from the server")
        })
        .collect();
    assert_eq!(hung.len(), 1, "{}", rig.show());
    let log = rig.job_log(hung[0]);
    assert!(
        log.contains("attempt 1 via 127.0.0.1")
            && log.contains(
                "deferred: no answer from the server within 3.0 s during sending the message data"
            ),
        "{log}"
    );
    let behind: Vec<&String> = sent
        .iter()
        .filter(|id| rig.job_log(id).contains("attempt 1 via"))
        .filter(|id| {
            rig.job_log(id)
                .contains("not tried: an earlier error ended the connection")
        })
        .collect();
    assert_eq!(behind.len(), 2, "{}", rig.show());
    for id in behind {
        assert!(
            rig.job_log(id).contains("attempt 2 via"),
            "{}",
            rig.job_log(id)
        );
    }
    for id in &sent {
        assert!(
            rig.job_log(id).contains("status: delivered"),
            "{}",
            rig.job_log(id)
        );
    }
}

/// Jobs waiting for a later retry are in the queue too, but they are not
/// work for a session now: the due jobs must still be shared between the
/// free sessions, so that one hung session does not hold every due job
/// while the other connection stays idle.
#[test]
fn due_jobs_are_shared_between_sessions_when_others_wait_for_a_retry() {
    let mut rig = Rig::start(
        Script::new().stall_first_connections(1),
        "max-connections = 2\ntimeout = 4s\nretry-min = 60s\nretry-max = 60s",
    );
    rig.stop();
    let spool = vmail_spool::Spool::open(rig.spool()).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    for id in rig.queue("waiting", 6) {
        let mut state = vmail_spool::JobState::fresh(std::time::SystemTime::now());
        state.attempts = 1;
        state.next_due = Some(later);
        spool.record_attempt(&id, &state).unwrap();
    }
    rig.queue("due", 4);
    rig.restart();
    rig.wait_for("a due job delivered by the second session", || {
        !rig.jobs("sent").is_empty()
    });
    let hang_ended = rig.a_queued_log_contains("attempt 1 via");
    assert!(
        !hang_ended,
        "nothing was delivered until the hung session ended:\n{}",
        rig.show()
    );
    rig.wait_for("two due jobs in sent/", || rig.jobs("sent").len() == 2);
    rig.stop();
    let sent = rig.jobs("sent");
    for id in &sent {
        assert!(rig.job_log(id).contains("attempt 1 via"), "{}", rig.show());
    }
    let bodies: Vec<String> = rig
        .server
        .messages()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(
        bodies.iter().all(|b| b.contains("Subject: due-")),
        "a job not yet due was sent: {bodies:?}"
    );
}

/// The daemon log is read by people: at `debug = 2` and `[VFXSCHED]
/// debug = On`, a run that repairs a leftover at start and defers a job
/// shows no Rust debug values (`{`, `SystemTime`) and no doubled words
/// (`deferred: deferred:`), and the times are RFC 3339 like the rest.
#[test]
fn the_daemon_log_of_a_deferred_and_a_recovered_run_reads_as_words() {
    let mut rig = Rig::start_with(
        Script::new().mail_reply("451 4.3.0 Temporary lookup failure"),
        |dir| {
            let tmp = dir.join("spool/tmp");
            std::fs::create_dir_all(&tmp).unwrap();
            std::fs::write(tmp.join("leftover.999999.0000000000000001"), "half a job").unwrap();
            "debug = 2".to_string()
        },
    );
    let id = rig.drop_one("words.eml", &eml("words"));
    rig.wait_for("a second attempt", || {
        rig.job_log(&id).contains("attempt 2 via")
    });
    rig.stop();
    let log = std::fs::read_to_string(rig.spool().join("logs/vmail")).unwrap();
    assert!(
        log.contains("1 job queued; repaired: 1 unfinished write removed from tmp/")
            || log.contains("0 jobs queued; repaired: 1 unfinished write removed from tmp/"),
        "{log}"
    );
    assert!(log.contains("next attempt at 20"), "{log}");
    for line in log.lines() {
        assert!(
            !line.contains('{') && !line.contains("SystemTime"),
            "a debug value: {line}"
        );
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|w| w.chars().any(char::is_alphabetic))
            .collect();
        let doubled = words.windows(2).find(|pair| pair[0] == pair[1]);
        assert!(doubled.is_none(), "doubled word {doubled:?}: {line}");
    }
}
