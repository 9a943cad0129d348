//! `vfxadmin queue` run as the real binary: list, show (queued and
//! finished), retry, hold, release, delete, `--json`, and unknown ids.
use crate::common;

use common::*;
use serde_json::Value;
use vmail_core::JobId;
use vmail_spool::Spool;

fn submit(env: &Env, to: &str) -> String {
    let run = env.run("vfx", &["-n", to, "-m", "hello"], b"");
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout.trim().to_string()
}

fn admin(env: &Env, args: &[&str]) -> Run {
    let mut all = vec!["queue"];
    all.extend_from_slice(args);
    env.run("vfxadmin", &all, b"")
}

fn state(env: &Env, id: &str) -> vmail_spool::JobState {
    let spool = Spool::open(env.spool()).unwrap();
    spool.state(&JobId::parse(id).unwrap()).unwrap()
}

#[test]
fn list_shows_a_table_and_json() {
    let env = Env::new();
    let run = admin(&env, &["list"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with("The queue of ") && run.stdout.ends_with(" is empty.\n"),
        "{run:?}"
    );
    let a = submit(&env, "ann@example.test");
    let b = submit(&env, "bob@example.test");
    let run = admin(&env, &["list"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert!(
        lines[0].starts_with("ID ") && lines[0].ends_with("RECIPIENTS        LAST REPLY"),
        "{}",
        lines[0]
    );
    let row = lines.iter().find(|l| l.starts_with(&a)).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[2..], ["0", "now", "ann@example.test", "-"], "{row}");
    assert_eq!(lines[3], "2 job(s)");

    let run = admin(&env, &["list", "--json"]);
    let jobs: Value = serde_json::from_str(&run.stdout).unwrap();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    let bob = jobs.iter().find(|j| j["id"] == b.as_str()).unwrap();
    assert_eq!(bob["recipients"], serde_json::json!(["bob@example.test"]));
    assert_eq!(bob["from"], "fax@example.test");
    assert_eq!(bob["state"]["attempts"], 0);
    assert_eq!(bob["state"]["held"], false);
}

#[test]
fn hold_release_retry_and_delete_change_the_state_record() {
    let env = Env::new();
    let a = submit(&env, "ann@example.test");
    let b = submit(&env, "bob@example.test");
    assert_eq!(admin(&env, &["hold", &a]).stdout, format!("{a}: held\n"));
    assert!(state(&env, &a).held);
    let list = admin(&env, &["list"]).stdout;
    assert!(
        list.lines()
            .any(|l| l.starts_with(&a) && l.contains(" held ")),
        "{list}"
    );
    assert_eq!(
        admin(&env, &["release", &a]).stdout,
        format!("{a}: released\n")
    );
    assert!(!state(&env, &a).held);
    admin(&env, &["hold", &b]);
    assert_eq!(
        admin(&env, &["retry", &b]).stdout,
        format!("{b}: due now\n")
    );
    let s = state(&env, &b);
    assert!(!s.held && s.next_due.is_none());
    admin(&env, &["hold", &a]);
    assert_eq!(
        admin(&env, &["retry", "--all"]).stdout,
        "1 job(s) due now; 1 held job(s) left held (--include-held releases them too)\n"
    );
    assert!(state(&env, &a).held);
    assert_eq!(
        admin(&env, &["retry", "--all", "--include-held"]).stdout,
        "2 job(s) due now\n"
    );
    assert!(!state(&env, &a).held);
    assert_eq!(
        admin(&env, &["delete", &a]).stdout,
        format!("{a}: deleted\n")
    );
    assert_eq!(env.queued(), [b]);
}

#[test]
fn show_gives_envelope_state_and_log_also_for_finished_jobs() {
    let env = Env::new();
    let a = submit(&env, "ann@example.test");
    let run = admin(&env, &["show", &a]);
    assert_eq!(run.code, 0, "{run:?}");
    for line in [
        format!("Job:         {a}"),
        "From:        fax@example.test".into(),
        "To:          ann@example.test".into(),
        "Attempts:    0".into(),
        "Next try:    now".into(),
        "Last reply:  -".into(),
    ] {
        assert!(
            run.stdout.contains(&line),
            "{line} missing:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("Where:       queued ("),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(" submitted by vfx (uid "),
        "{}",
        run.stdout
    );

    let spool = Spool::open(env.spool()).unwrap();
    spool.finish_sent(&JobId::parse(&a).unwrap()).unwrap();
    let run = admin(&env, &["show", &a]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Where:       delivered, in sent/ ("),
        "{}",
        run.stdout
    );
    let run = admin(&env, &["show", "--json", &a]);
    let job: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(job["where"], "sent");
    assert_eq!(job["recipients"], serde_json::json!(["ann@example.test"]));
    assert!(job["size"].as_u64().unwrap() > 100);
    assert!(job["log"][0].as_str().unwrap().contains("submitted by vfx"));
}

#[test]
fn unknown_and_invalid_ids_are_clear_errors() {
    let env = Env::new();
    let missing = "20261123-000000-0000000000";
    let spool = env.spool();
    let run = admin(&env, &["show", missing]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "vfxadmin: no job {missing} in the spool {} (not in queue/, sent/ or failed/)\n",
            spool.display()
        )
    );
    for action in ["hold", "release", "retry", "delete"] {
        let run = admin(&env, &[action, missing]);
        assert_eq!(run.code, 1, "{action}: {run:?}");
        assert_eq!(
            run.stderr,
            format!(
                "vfxadmin: no job {missing} in the queue of {}\n",
                spool.display()
            ),
            "{action}"
        );
    }
    let run = admin(&env, &["hold", "../etc/passwd"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "vfxadmin: `../etc/passwd` is not a job id (letters, digits, '-' and '_', 1 to 64 characters)\n"
    );
}

#[test]
fn list_filters_held_deferred_and_old_jobs_and_stops_at_the_limit() {
    let env = Env::new();
    let fresh = submit(&env, "ann@example.test");
    let held = submit(&env, "bob@example.test");
    let deferred = submit(&env, "cy@example.test");
    admin(&env, &["hold", &held]);
    // Tried once, two hours ago, and deferred.
    let spool = Spool::open(env.spool()).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    let id = JobId::parse(&deferred).unwrap();
    let tried = vmail_spool::JobState::fresh(two_hours_ago)
        .deferred(
            two_hours_ago,
            "451 try later",
            None,
            &vmail_core::RetryPolicy::default(),
        )
        .unwrap();
    spool.record_attempt(&id, &tried).unwrap();

    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["list"];
        all.extend_from_slice(args);
        let run = admin(&env, &all);
        assert_eq!(run.code, 0, "{run:?}");
        run.stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|first| JobId::parse(first).is_ok_and(|_| first.contains('-')))
            .map(String::from)
            .collect()
    };
    assert_eq!(ids(&["--held"]), std::slice::from_ref(&held));
    assert_eq!(ids(&["--deferred"]), std::slice::from_ref(&deferred));
    assert_eq!(
        ids(&["--older-than", "1h"]),
        std::slice::from_ref(&deferred)
    );
    assert_eq!(ids(&["--older-than", "3h"]), Vec::<String>::new());
    assert_eq!(ids(&["--limit", "2"]).len(), 2);
    let all = ids(&[]);
    assert_eq!(all.len(), 3);
    assert!(all.contains(&fresh));

    let run = admin(&env, &["list", "--held", "--deferred"]);
    assert_eq!(run.stdout, "No queued job matches.\n", "{run:?}");
    let run = admin(&env, &["list", "--json", "--limit", "1", "--held"]);
    let jobs: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{}", run.stdout);
    assert_eq!(jobs[0]["id"], held.as_str());
    let run = admin(&env, &["list", "--json", "--older-than", "3h"]);
    let jobs: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(jobs, serde_json::json!([]), "{}", run.stdout);
    let run = admin(&env, &["list", "--older-than", "soon"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("\"soon\" is not a duration (seconds, or a number with s, m, h or d"),
        "{run:?}"
    );
}
