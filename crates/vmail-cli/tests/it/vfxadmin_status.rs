//! `vfxadmin status` tells a person whether vmaild runs and how the queue
//! stands, with the metrics endpoint off (the status file and the spool)
//! and after the daemon stopped; the endpoint on a Unix socket serves the
//! same counts to curl.
use crate::common::Env;
use serde_json::Value;
use std::process::Command;
use vmail_testkit::process::{Vmaild, wait_for, workspace_binary};

fn vmaild(env: &Env) -> Vmaild {
    Vmaild::start(
        &workspace_binary("vmail-daemon", "vmaild"),
        &env.ini(),
        &env.spool(),
        &env.path().join("vmaild.stderr"),
    )
}

fn status_json(env: &Env) -> (i32, Value) {
    let run = env.run("vfxadmin", &["status", "--json"], b"");
    let json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run.code, json)
}

fn submit(env: &Env, subject: &str) -> String {
    let run = env.run("vfx", &["-n", "someone@example.test", "-m", subject], b"");
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout.split_whitespace().last().unwrap().to_string()
}

#[test]
fn a_spool_vmaild_never_ran_on_is_not_running_with_its_queue_counted() {
    let env = Env::new();
    let id = submit(&env, "waiting");
    let run = env.run("vfxadmin", &["status"], b"");
    assert_eq!(run.code, 3, "LSB: not running\n{run:?}");
    assert!(
        run.stdout
            .contains("vmaild:        not running (it has never run on this spool)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("queue:         1 job(s): 0 held, 0 deferred, 1 waiting for a first attempt"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("oldest job:    {id} queued ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("relay:         capture folder "),
        "{}",
        run.stdout
    );
    let daemon_log = env.spool().join("logs").join("vmail");
    assert!(
        run.stdout
            .contains(&format!("read next:     {}", daemon_log.display())),
        "{}",
        run.stdout
    );
    let (code, json) = status_json(&env);
    assert_eq!(code, 3);
    assert_eq!(json["running"], false);
    assert_eq!(json["state"], "unknown");
    assert_eq!(json["queue"]["queued"], 1);
    assert_eq!(json["queue"]["oldest"]["id"], id.as_str());
}

#[test]
fn a_running_vmaild_is_named_with_its_counts_and_the_socket_serves_them() {
    let env = Env::with_vmail("metrics-listen = METRICS_SOCK");
    let socket = env.path().join("metrics.sock");
    let ini = std::fs::read_to_string(env.ini()).unwrap();
    std::fs::write(
        env.ini(),
        ini.replace("METRICS_SOCK", socket.to_str().unwrap()),
    )
    .unwrap();
    let held = submit(&env, "held");
    assert_eq!(env.run("vfxadmin", &["queue", "hold", &held], b"").code, 0);
    let daemon = vmaild(&env);
    submit(&env, "sent");
    let mut json = Value::Null;
    wait_for(
        "vfxadmin status to count one delivery",
        || {
            json = status_json(&env).1;
            json["counts"]["delivered"] == 1
        },
        || format!("{:#}\n{}", status_json(&env).1, daemon.log()),
    );
    let (code, json) = status_json(&env);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["running"], true);
    assert_eq!(json["pid"], daemon.pid());
    assert_eq!(json["queue"]["queued"], 1);
    assert_eq!(json["queue"]["held"], 1);
    assert_eq!(json["queue"]["oldest"]["id"], held.as_str());
    assert_eq!(json["metrics_listen"], socket.to_str().unwrap());
    assert!(json["uptime_seconds"].as_u64().is_some(), "{json:#}");
    assert!(json["last_delivery"].is_string(), "{json:#}");
    let run = env.run("vfxadmin", &["status"], b"");
    assert!(
        run.stdout.starts_with(&format!(
            "vmaild:        running (pid {}), up ",
            daemon.pid()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("since the start: 1 delivered, 0 failed"),
        "{}",
        run.stdout
    );

    let out = Command::new("curl")
        .args(["--silent", "--fail", "--max-time", "10", "--unix-socket"])
        .arg(&socket)
        .arg("http://vmail/metrics")
        .output()
        .expect("curl is needed for this test");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    // Capture mode answers a plain 250, without an enhanced code.
    assert!(
        text.lines()
            .any(|l| l == "vmail_delivered_total{reply_class=\"2xx\",enhanced_class=\"none\"} 1"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "vmail_jobs_held 1"), "{text}");

    assert_eq!(daemon.stop().code(), Some(0));
    assert!(!socket.exists(), "the socket outlived the daemon");
    let run = env.run("vfxadmin", &["status"], b"");
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .contains("vmaild:        not running (stopped cleanly)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("in its last run: 1 delivered"),
        "{}",
        run.stdout
    );
}
