//! The real vmaild with POP-before-SMTP against the private Dovecot and
//! Postfix of `tests/run.sh`, at `debug = 2`: the POP3 login (in clear and
//! over POP3S) comes before the SMTP session, the dropped .eml arrives, and
//! afterwards no file under the test's folder (daemon log, job logs, queue
//! and state files, stderr, the ini with its sealed `pop-rsp`; only the key
//! file is skipped) holds the password or any base64 form of it. A wrong
//! POP password keeps the job queued, the job log carries Dovecot's -ERR,
//! and that password is not written either.
use crate::common::daemon;
use crate::common::ini::Ini;
use crate::common::real;

use daemon::Daemon;
use std::path::Path;
use vmail_testkit::servers::{TestServers, TestUser};

/// Writes the ini for Postfix's plain port (no SMTP login) with a POP3
/// login to `pop_port` as `user` with `password`, sealed with the key in
/// `dir`.
fn write_config(
    dir: &Path,
    servers: &TestServers,
    pop_port: u16,
    pop_tls: bool,
    user: &str,
    password: &str,
    extra: &str,
) {
    let delim = if password.contains('|') { "\u{1}" } else { "|" };
    let sealed = real::seal(&dir.join("vmail.key"), &format!("{user}{delim}{password}"));
    let pop = format!(
        "debug = 2\n\
         pop-server = {host}\n\
         pop-port = {pop_port}\n\
         pop-tls = {tls}\n\
         pop-rsp = {sealed}\n\
         pop-delay = 50ms\n\
         auth-delim = {delim}\n\
         {extra}",
        host = servers.host,
        tls = if pop_tls { "yes" } else { "no" },
    );
    Ini::plain(servers, servers.smtp_plain_port)
        .with(&pop)
        .write(dir);
}

/// Every file under `dir` but the key file, searched for every form of
/// `password`.
fn assert_no_secret_under(dir: &Path, user: &str, password: &str, case: &str) {
    let searched = real::assert_no_secret_under(dir, user, password, case);
    assert!(
        searched.iter().any(|path| path.ends_with("vmaild.stderr")),
        "{case}: the search did not see vmaild's stderr"
    );
}

#[test]
fn a_pop_login_then_the_eml_arrives_and_no_secret_is_written() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, u16, bool, &TestUser); 2] = [
        ("pop3", servers.pop3_port, false, &servers.special_user),
        ("pop3s", servers.pop3s_port, true, &servers.user),
    ];
    for (case, port, tls, user) in cases {
        let case_dir = dir.path().join(case);
        std::fs::create_dir_all(&case_dir).unwrap();
        write_config(
            &case_dir,
            &servers,
            port,
            tls,
            &user.user,
            &user.password,
            "",
        );
        let daemon = Daemon::start(&case_dir);
        let spool = case_dir.join("spool");
        let body = "POP first, then SMTP.\n";
        let id = real::send(&spool, &servers.user.user, case, body);
        let arrived = real::arrived(&servers, &id, || format!("{case}: {}", daemon.log()));
        let arrived = String::from_utf8_lossy(&arrived).replace("\r\n", "\n");
        assert!(arrived.ends_with(body), "{case}: {arrived}");
        let job = real::one_job_in(&spool, "sent");
        assert_eq!(daemon.stop().code(), Some(0), "{case}");
        let log = real::job_log(&spool, &job);
        // The POP3 login is in the transcript, before the SMTP greeting.
        let pop = log
            .find(&format!("POP-before-SMTP: {}:{port}", servers.host))
            .unwrap_or_else(|| panic!("{case}: no POP login in\n{log}"));
        let pass = log
            .find(" C: PASS <redacted>")
            .unwrap_or_else(|| panic!("{case}: no PASS in\n{log}"));
        let ehlo = log
            .find(" C: EHLO ")
            .unwrap_or_else(|| panic!("{case}: no EHLO in\n{log}"));
        assert!(pop < pass && pass < ehlo, "{case}: out of order\n{log}");
        // Dovecot took the login (its answer to PASS), before any SMTP.
        let logged_in = log[pass..]
            .find(" S: +OK Logged in.")
            .map(|at| pass + at)
            .unwrap_or_else(|| panic!("{case}: no +OK to PASS in\n{log}"));
        assert!(logged_in < ehlo, "{case}: {log}");
        assert!(log.contains(&format!(" C: USER {}", user.user)), "{log}");
        assert!(log.contains(" S: 250 2.0.0 Ok: queued"), "{case}: {log}");
        assert!(log.contains("status: delivered"), "{case}: {log}");
        assert_no_secret_under(&case_dir, &user.user, &user.password, case);
    }
}

#[test]
fn a_wrong_pop_password_keeps_the_job_queued_and_writes_no_secret() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let user = &servers.user;
    let wrong = "Wrong.Pop-Pass:4711 x";
    write_config(
        dir.path(),
        &servers,
        servers.pop3_port,
        false,
        &user.user,
        wrong,
        "retry-min = 1h\nretry-max = 2h\n",
    );
    let daemon = Daemon::start(dir.path());
    let spool = dir.path().join("spool");
    let id = real::send(&spool, &user.user, "badpop", "never sent\n");
    // Dovecot answers a bad login after its failure delay (2 s by default).
    real::wait_for_queued_log("the first attempt in a job log", &spool, "next attempt at");
    assert_eq!(daemon.stop().code(), Some(0));
    let queued = real::jobs_in(&spool, "queue");
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(real::jobs_in(&spool, "sent").is_empty());
    assert!(real::jobs_in(&spool, "failed").is_empty());
    let log = real::job_log(&spool, &queued[0]);
    let attempt = log
        .lines()
        .find(|l| l.contains("attempt 1 via"))
        .unwrap_or_else(|| panic!("no attempt in\n{log}"));
    assert!(
        attempt.contains(&format!(
            "deferred: POP-before-SMTP login to {}:{} failed at PASS: -ERR",
            servers.host, servers.pop3_port
        )),
        "{log}"
    );
    assert!(log.contains(" C: PASS <redacted>"), "{log}");
    assert!(
        !log.contains(" C: EHLO"),
        "SMTP after a failed POP login:\n{log}"
    );
    assert!(!log.contains("status: "), "{log}");
    let state =
        std::fs::read_to_string(spool.join("queue").join(format!("{}.state", queued[0]))).unwrap();
    assert!(state.contains("attempts=1\n"), "{state}");
    assert!(state.contains("next-due="), "{state}");
    assert!(
        servers.find_message(&id).is_empty(),
        "the message went anyway"
    );
    assert_no_secret_under(dir.path(), &user.user, wrong, "wrong password");
    assert_no_secret_under(dir.path(), &user.user, &user.password, "right password");
}
