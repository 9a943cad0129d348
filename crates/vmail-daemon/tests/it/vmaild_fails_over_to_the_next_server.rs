//! vmaild with several servers in `[VMAIL] mail-server`: a closed port, a
//! `421` banner and a server that never greets are passed over for the real
//! Postfix, each named in the job log with its error; with every server
//! down the job is deferred with each one's error and delivered once one
//! comes back, the daemon log saying when a server went down and came back;
//! a `550` recipient fails the job without asking the next server, and a
//! `535` is a wrong login, not a failover.
use crate::common::daemon;
use crate::common::ini::Ini;
use crate::common::real;

use daemon::{drop_eml, wait_for};
use std::path::Path;
use vmail_testkit::fault::{FaultServer, Script};

/// A port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn at(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// The job's log names no other server tried, and `next` was never asked.
fn assert_no_failover(log: &str, next: &FaultServer) {
    assert!(!log.contains("note: tried"), "{log}");
    assert_eq!(next.connections(), 0, "the next server was asked:\n{log}");
}

/// Drops a message to `to`; its Message-ID.
fn send(spool: &Path, to: &str, tag: &str) -> String {
    real::send(spool, to, tag, "failover\n")
}

#[test]
fn a_closed_port_a_421_and_a_silent_server_give_way_to_postfix() {
    let servers = real::servers();
    let rt = runtime();
    let busy = rt
        .block_on(FaultServer::start(
            Script::new().greeting("421 4.3.2 Service shutting down"),
        ))
        .unwrap();
    let silent = rt
        .block_on(FaultServer::start(Script::new().silent_banner()))
        .unwrap();
    let closed = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let list = [
        at(closed),
        at(busy.port()),
        at(silent.port()),
        at(servers.smtp_plain_port),
    ];
    let daemon = Ini::failover(&list).start(dir.path());
    let spool = daemon.spool();
    let id = send(&spool, &servers.user.user, "failover");
    real::arrived(&servers, &id, || real::show(&spool));
    let log = real::job_log_in(&spool, "sent");
    let tried_closed = format!(
        "  note: tried {}: cannot connect to 127.0.0.1:{closed}: ",
        at(closed)
    );
    let tried_busy = format!(
        "  note: tried {}: the server refused the connection in its greeting (server said: 421 4.3.2 Service shutting down)",
        at(busy.port())
    );
    let tried_silent = format!(
        "  note: tried {}: no answer from the server within 2.0 s during waiting for the greeting",
        at(silent.port())
    );
    let took = format!(
        "  note: then {} took the session",
        at(servers.smtp_plain_port)
    );
    let positions: Vec<Option<usize>> = [&tried_closed, &tried_busy, &tried_silent, &took]
        .iter()
        .map(|line| log.find(line.as_str()))
        .collect();
    assert!(
        positions.iter().all(Option::is_some),
        "{positions:?}\n{log}"
    );
    assert!(positions.is_sorted(), "not in order:\n{log}");
    assert!(log.contains("status: delivered"), "{log}");
    assert!(
        log.contains(&format!("attempt 1 via {}: delivered", list.join(" or "))),
        "{log}"
    );
    let daemon_log = daemon.log();
    for server in &list[..3] {
        assert!(
            daemon_log.contains(&format!("mail server {server} is down (")),
            "{daemon_log}"
        );
    }
    // The status file's last delivery belongs to the server that took the
    // job, not to the list.
    let took_it = at(servers.smtp_plain_port);
    let delivered_by = |host: &str| {
        vmail_daemon::status::DaemonStatus::read(&spool)
            .ok()
            .flatten()
            .is_some_and(|status| {
                status
                    .hosts
                    .iter()
                    .any(|h| h.host == host && h.last_delivery.is_some())
            })
    };
    wait_for(
        "the status file's last delivery through Postfix",
        || delivered_by(&took_it),
        || format!("{:?}", vmail_daemon::status::DaemonStatus::read(&spool)),
    );
    assert!(!delivered_by(&list.join(" or ")));
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn every_server_down_defers_with_each_error_then_one_coming_back_delivers() {
    let rt = runtime();
    let (first, second) = (closed_port(), closed_port());
    let dir = tempfile::tempdir().unwrap();
    let daemon = Ini::failover(&[at(first), at(second)]).start(dir.path());
    let spool = daemon.spool();
    drop_eml(
        &spool,
        "down.eml",
        &real::eml("fax@example.test", &["a@example.test"], "down.1@x", "x\n"),
    );
    let id = real::wait_for_queued_log("the first deferral", &spool, "next attempt at");
    let log = real::job_log(&spool, &id);
    let expected = format!(
        "attempt 1 via {} or {}: deferred: no mail server took the session (2 tried): {}: cannot connect to 127.0.0.1:{first}: ",
        at(first),
        at(second),
        at(first)
    );
    assert!(log.contains(&expected), "{log}");
    assert!(
        log.contains(&format!(
            "; {}: cannot connect to 127.0.0.1:{second}: ",
            at(second)
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "what to do: {}, {}: check [VMAIL] mail-server and mail-port",
            at(first),
            at(second)
        )),
        "{log}"
    );
    // The second server comes back where the list names it.
    let back = rt
        .block_on(FaultServer::start_on(Script::new(), second))
        .unwrap();
    let log = real::job_log_in(&spool, "sent");
    assert!(log.contains("status: delivered"), "{log}");
    assert!(
        log.contains(&format!("then {} took the session", at(second))),
        "{log}"
    );
    assert_eq!(back.messages().len(), 1);
    daemon.wait_for_log(&format!("mail server {} works again", at(second)));
    let daemon_log = daemon.log();
    assert!(
        daemon_log.contains(&format!("mail server {} is down (", at(second))),
        "{daemon_log}"
    );
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_550_fails_the_job_without_asking_the_next_server() {
    let servers = real::servers();
    let rt = runtime();
    let next = rt.block_on(FaultServer::start(Script::new())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Ini::failover(&[at(servers.smtp_plain_port), at(next.port())]).start(dir.path());
    let spool = daemon.spool();
    send(&spool, &servers.reject_rcpt, "refused");
    let log = real::job_log_in(&spool, "failed");
    assert!(log.contains("550"), "{log}");
    assert_no_failover(&log, &next);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_535_is_a_wrong_login_not_a_failover() {
    let servers = real::servers();
    let rt = runtime();
    let next = rt.block_on(FaultServer::start(Script::new())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sealed = real::seal(
        &dir.path().join("vmail.key"),
        &format!("{}:wrong.password", servers.user.user),
    );
    let daemon = Ini::failover(&[at(servers.submission_port), at(next.port())])
        .with(&format!(
            "tls = starttls\nca-file = {}\nauth-type = plain\nauth-rsp = {sealed}",
            servers.ca_cert.display()
        ))
        .start(dir.path());
    let spool = daemon.spool();
    send(&spool, &servers.user.user, "login");
    let id = real::wait_for_queued_log("the deferral", &spool, "next attempt at");
    let log = real::job_log(&spool, &id);
    assert!(
        log.contains("deferred: the server rejected the login (AUTH PLAIN) (server said: 535"),
        "{log}"
    );
    assert!(log.contains("VMAIL auth-rsp"), "{log}");
    assert_no_failover(&log, &next);
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_451_to_mail_from_sends_the_jobs_through_the_next_server() {
    let servers = real::servers();
    let rt = runtime();
    let refusing = rt
        .block_on(FaultServer::start(
            Script::new().mail_reply("451 4.3.0 Temporary lookup failure"),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = [at(refusing.port()), at(servers.smtp_plain_port)];
    let daemon = Ini::failover(&list).start(dir.path());
    let spool = daemon.spool();
    let id = send(&spool, &servers.user.user, "mail451");
    real::arrived(&servers, &id, || real::show(&spool));
    let log = real::job_log_in(&spool, "sent");
    assert!(
        log.contains(&format!(
            "  note: tried {}: the server refused the sender in MAIL FROM (server said: 451 4.3.0 Temporary lookup failure)",
            list[0]
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("  note: then {} took the session", list[1])),
        "{log}"
    );
    assert_eq!(refusing.messages().len(), 0);
    assert_eq!(daemon.stop().code(), Some(0));
}
