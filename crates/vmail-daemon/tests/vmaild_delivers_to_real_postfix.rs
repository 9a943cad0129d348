//! The real vmaild delivering to the private Postfix (Dovecot SASL) of
//! `tests/run.sh`: a dropped .eml arrives intact over STARTTLS and AUTH, the
//! job log at debug=2 keeps the numeric replies and the transcript, and no
//! form of the password is written anywhere; a 550 recipient fails the job
//! at once with exactly one notice to the sender.
#![allow(clippy::unwrap_used)]
#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/real.rs"]
mod real;

use daemon::*;

#[test]
fn an_eml_arrives_over_starttls_and_auth_with_no_secret_written() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    for (auth_type, user) in [
        ("plain", &servers.user),
        ("login", &servers.colon_user),
        ("cram-md5", &servers.special_user),
    ] {
        let case = dir.path().join(auth_type);
        std::fs::create_dir_all(&case).unwrap();
        real::write_config(
            &case,
            &servers,
            servers.submission_port,
            "starttls",
            Some((auth_type, user)),
            "debug = 2",
        );
        let daemon = Daemon::start(&case);
        let id = real::message_id(auth_type);
        let body = "first line\n.\n.dot line\nlast line\n";
        drop_eml(
            &case.join("spool"),
            "a.eml",
            &real::eml("fax@example.test", &[&servers.user.user], &id, body),
        );
        let arrived = servers
            .delivered_message(&id, real::DELIVERY_WAIT)
            .unwrap_or_else(|| panic!("{id} never arrived\n{}", daemon.log()));
        let arrived = String::from_utf8_lossy(&arrived).replace("\r\n", "\n");
        assert!(arrived.ends_with(body), "{arrived}");
        let spool = case.join("spool");
        wait_for(
            "the job in sent/",
            || real::jobs_in(&spool, "sent").len() == 1,
            || daemon.log(),
        );
        let job = &real::jobs_in(&spool, "sent")[0];
        let log = real::job_log(&spool, job);
        assert!(log.contains("status: delivered"), "{log}");
        assert!(log.contains(" S: 235 2.7.0"), "no AUTH reply in\n{log}");
        assert!(log.contains(" S: 250 2.0.0 Ok: queued"), "{log}");
        assert!(log.contains(" C: STARTTLS"), "{log}");
        assert_eq!(daemon.stop().code(), Some(0));
        let key = case.join("vmail.key");
        for (path, text) in real::all_text_under(&case, &[key.as_path()]) {
            for form in real::secret_forms(&user.user, &user.password) {
                assert!(
                    !text.contains(&form),
                    "{auth_type}: `{form}` written in {}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn a_refused_recipient_fails_the_job_with_one_notice() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    // The sender is a mailbox of the test server, so the notice can be read.
    real::write_config(
        dir.path(),
        &servers,
        servers.smtp_plain_port,
        "none",
        None,
        &format!("from = {}", servers.user.user),
    );
    let daemon = Daemon::start(dir.path());
    let id = real::message_id("rejected");
    drop_eml(
        &dir.path().join("spool"),
        "r.eml",
        &real::eml(&servers.user.user, &[&servers.reject_rcpt], &id, "x\n"),
    );
    let spool = dir.path().join("spool");
    wait_for(
        "the job in failed/",
        || real::jobs_in(&spool, "failed").len() == 1,
        || daemon.log(),
    );
    let job = &real::jobs_in(&spool, "failed")[0];
    let log = real::job_log(&spool, job);
    assert!(log.contains("550"), "the 550 is not in the job log:\n{log}");
    assert!(log.contains("status: failed"), "{log}");
    // The notice names the job's Message-ID; wait for it, then for the
    // queue to be empty, and count.
    let deadline = std::time::Instant::now() + real::DELIVERY_WAIT;
    while real::messages_containing(&servers, &servers.user.user, &id).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no notice arrived\n{}",
            daemon.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    wait_for(
        "an empty queue",
        || real::jobs_in(&spool, "queue").is_empty(),
        || daemon.log(),
    );
    assert_eq!(daemon.stop().code(), Some(0));
    let notices = real::messages_containing(&servers, &servers.user.user, &id);
    assert_eq!(notices.len(), 1, "{notices:?}");
}
