//! `vfxadmin queue hold | release | retry | delete` leave a line in the
//! job's log naming the uid (and user) that did it; `retry --all` leaves
//! held jobs held; `queue show` of a deleted job shows its log and says it
//! was deleted; `queue retry` without an id names `--all`.
use crate::common;

use common::*;

fn submit(env: &Env, to: &str) -> String {
    let run = env.run("vfx", &["-n", to, "-m", "hello"], b"");
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout.trim().to_string()
}

/// `vfxadmin queue ARGS`, not under sudo (whatever ran the tests).
fn admin(env: &Env, args: &[&str]) -> Run {
    admin_as(env, args, "")
}

fn admin_as(env: &Env, args: &[&str], sudo_user: &str) -> Run {
    let ini = env.ini();
    let mut all = vec!["-c", ini.to_str().unwrap(), "queue"];
    all.extend_from_slice(args);
    run_in(
        env.path(),
        "vfxadmin",
        &all,
        b"",
        &[("SUDO_USER", sudo_user)],
    )
}

/// The log's lines without their time stamps.
fn log_of(env: &Env, id: &str) -> Vec<String> {
    let text = std::fs::read_to_string(env.spool().join("logs").join(format!("{id}.log")))
        .unwrap_or_default();
    text.lines()
        .map(|line| {
            line.split_once(' ')
                .map_or(line, |(_, rest)| rest)
                .to_string()
        })
        .collect()
}

fn me() -> String {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    match vmail_spool::user_name(uid) {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

#[test]
fn every_change_is_in_the_log_with_the_uid() {
    let env = Env::new();
    let a = submit(&env, "ann@example.test");
    for action in ["hold", "release", "retry"] {
        assert_eq!(admin(&env, &[action, &a]).code, 0);
    }
    let who = me();
    assert_eq!(
        log_of(&env, &a),
        [
            format!("held by {who} with vfxadmin queue hold"),
            format!("released by {who} with vfxadmin queue release"),
            format!("made due now by {who} with vfxadmin queue retry"),
        ]
    );
}

#[test]
fn root_through_sudo_is_named_with_who_ran_sudo() {
    let env = Env::new();
    let a = submit(&env, "ann@example.test");
    assert_eq!(admin_as(&env, &["hold", &a], "ann").code, 0);
    let expected = if me().starts_with("uid 0 ") {
        "held by uid 0 (root, through sudo by ann) with vfxadmin queue hold".to_string()
    } else {
        format!("held by {} with vfxadmin queue hold", me())
    };
    assert_eq!(log_of(&env, &a), [expected]);
}

#[test]
fn retry_all_leaves_held_jobs_held_and_retry_alone_names_all() {
    let env = Env::new();
    let a = submit(&env, "ann@example.test");
    let b = submit(&env, "bob@example.test");
    admin(&env, &["hold", &a]);
    let run = admin(&env, &["retry", "--all"]);
    assert_eq!(
        run.stdout,
        "1 job(s) due now; 1 held job(s) left held (--include-held releases them too)\n"
    );
    let list = admin(&env, &["list"]).stdout;
    assert!(
        list.lines()
            .any(|l| l.starts_with(&a) && l.contains(" held ")),
        "{list}"
    );
    assert!(
        log_of(&env, &b)
            .last()
            .unwrap()
            .starts_with("made due now by ")
    );

    let run = admin(&env, &["retry"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr,
        "vfxadmin: queue retry needs a job id (as `vfxadmin queue list` shows it), or --all for every job that is not held (--all --include-held releases held jobs too)\n"
    );
}

#[test]
fn show_of_a_deleted_job_says_so_and_shows_its_log() {
    let env = Env::new();
    let a = submit(&env, "ann@example.test");
    assert_eq!(
        admin(&env, &["delete", &a]).stdout,
        format!("{a}: deleted\n")
    );
    let run = admin(&env, &["show", &a]);
    assert_eq!(run.code, 0, "{run:?}");
    let who = me();
    assert!(
        run.stdout.starts_with(&format!(
            "Job:         {a}\nWhere:       deleted (deleted by {who} with vfxadmin queue delete)\n\nLog:\n"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(" submitted by vfx (uid "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.trim_end().ends_with(&format!(
            "deleted by {who} with vfxadmin queue delete: the job is gone from the queue, this log stays"
        )),
        "{}",
        run.stdout
    );
}
