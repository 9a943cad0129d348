//! `vfxadmin template check | list` run as the real binary on the shipped
//! templates (config/templates) copied beside a temp ini, and on broken ones.
use crate::common;

use common::*;
use std::path::Path;

/// An environment whose `templates/` holds the shipped templates.
fn with_shipped() -> Env {
    let env = Env::new();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/templates");
    let dir = env.path().join("templates");
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(shipped).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    env
}

fn template(env: &Env, args: &[&str]) -> Run {
    let mut all = vec!["template"];
    all.extend_from_slice(args);
    env.run("vfxadmin", &all, b"")
}

#[test]
fn check_renders_the_samples_and_a_field_given_on_the_command_line() {
    let env = with_shipped();
    let run = template(&env, &["check", "fax-received", "--field", "pages=1"]);
    assert_eq!(run.code, 0, "{run:?}");
    let path = env.path().join("templates/fax-received.j2");
    let expected = format!(
        "fax-received: {}\n\
         reads: caller, device, duration, pages, received, remote_id, status\n\
         fields: caller = 030 1234567, device = ttyS0, duration = 0:47, pages = 1, received = 2026-12-02 09:15:00, remote-id = +49 30 1234567\n\
         ---\n\
         Subject: Fax from +49 30 1234567, 1 page\n\
         \n\
         A fax came in from +49 30 1234567: 1 page.\n\
         \n\
         Received:   2026-12-02 09:15:00\n\
         Duration:   0:47\n\
         Caller ID:  030 1234567\n\
         Line:       ttyS0\n\
         \n\
         The fax is attached.\n",
        path.display()
    );
    assert_eq!(run.stdout, expected);
    for name in ["fax-sent", "fax-failed"] {
        let run = template(&env, &["check", name]);
        assert_eq!(run.code, 0, "{name}: {run:?}");
        assert!(
            run.stdout.contains("\n---\nSubject: Fax to +1 555 0100 "),
            "{run:?}"
        );
    }
}

#[test]
fn check_without_the_samples_names_the_missing_field_and_fails() {
    let env = with_shipped();
    let run = template(
        &env,
        &["check", "fax-sent", "--no-samples", "-f", "pages=2"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "vfxadmin: template `fax-sent` ({}) line 12: field `destination` is missing (the job gives pages)\n",
            env.path().join("templates/fax-sent.j2").display()
        )
    );
}

#[test]
fn check_reports_a_syntax_error_and_a_name_that_leaves_the_folder() {
    let env = with_shipped();
    env.file(
        "templates/broken.j2",
        b"Subject: x\n\n{% for p in pages %}\n",
    );
    let run = template(&env, &["check", "broken"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.starts_with("vfxadmin: template `broken` (")
            && run.stderr.contains("broken.j2) line 3: syntax error: "),
        "{run:?}"
    );
    let run = template(&env, &["check", "../vsisrv"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .starts_with("vfxadmin: template name `../vsisrv` is not a plain name"),
        "{run:?}"
    );
    let run = template(&env, &["list"]);
    assert_eq!(run.code, 1, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("broken        error: template `broken`"),
        "{run:?}"
    );
    assert_eq!(
        lines[1..],
        [
            "fax-failed    reads attempts, destination, job_id, pages, pages_sent, status",
            "fax-received  reads caller, device, duration, pages, received, remote_id, status",
            "fax-sent      reads destination, duration, job_id, pages, remote_id",
        ]
    );
}
