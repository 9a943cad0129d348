//! vmaild with issue 14's TLS keys against the private Postfix: a job
//! relays through the listener that accepts a client by its certificate
//! (`tls-cert-file`, `tls-key-file`), and a wrong `tls-fingerprint` on the
//! self-signed listener defers the job with the fingerprint seen in its log,
//! ready to paste; pasted, the job goes.
use crate::common::daemon;
use crate::common::ini::Ini;
use crate::common::real;

use daemon::*;

#[test]
fn the_client_certificate_relays_a_job() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "tls-cert-file = {}\ntls-key-file = {}",
        servers.client_cert.display(),
        servers.client_key.display()
    );
    let daemon = Ini::starttls(&servers, servers.clientcert_port)
        .with(&extra)
        .start(dir.path());
    let id = real::send(&daemon.spool(), &servers.user.user, "clientcert", "hello\n");
    real::arrived(&servers, &id, || daemon.log());
    assert_eq!(daemon.stop().code(), Some(0));
}

#[test]
fn a_wrong_pin_defers_with_the_fingerprint_seen_and_the_pasted_one_delivers() {
    let servers = real::servers();
    let dir = tempfile::tempdir().unwrap();
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let write = |pin: &str| {
        Ini::starttls(&servers, servers.selfsigned_port)
            .with(&format!(
                "tls-fingerprint = {pin}\nretry-min = 1s\nretry-max = 2s"
            ))
            .write(dir.path())
    };
    write(&wrong);
    let daemon = Daemon::start(dir.path());
    let spool = daemon.spool();
    let id = real::send(&spool, &servers.user.user, "pin", "hello\n");
    let seen = format!(
        "TLS with {} failed: the server's certificate has the fingerprint {}, which is not in \
         [VMAIL] tls-fingerprint",
        servers.host, servers.selfsigned_fingerprint
    );
    real::wait_for_queued_log("the job log to name the fingerprint seen", &spool, &seen);
    assert!(
        real::jobs_in(&spool, "failed").is_empty(),
        "deferred, not failed"
    );

    // The fingerprint as the log shows it, pasted into the file.
    write(&servers.selfsigned_fingerprint);
    daemon.signal("HUP");
    real::arrived(&servers, &id, || daemon.log());
    assert_eq!(daemon.stop().code(), Some(0));
}
