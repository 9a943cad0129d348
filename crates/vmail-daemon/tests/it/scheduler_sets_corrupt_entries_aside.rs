//! A queue entry that cannot be read (garbage in place of the envelope, or a
//! mangled state record) is set aside in quarantine/ and the rest of the
//! queue flows; a job whose state alone was bad is delivered as a fresh one.

use crate::common::*;
use vmail_daemon::scheduler::Mode;

#[tokio::test]
async fn corrupt_entries_are_set_aside_and_never_stop_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), HOUR, DAY);
    let spool = vmail_spool::Spool::open(&config.spool).unwrap();
    let good = submit(&spool, &["a@example.test"], "good");
    let bad_state = submit(&spool, &["b@example.test"], "state");
    std::fs::write(spool.state_path(&bad_state), "attempts=many\n\u{0}garbage").unwrap();
    std::fs::write(
        spool.queue_dir().join("20261123-000000-00000000ff"),
        "\u{0}\u{1} not a message",
    )
    .unwrap();

    let fake = Fake::scripted(vec![]);
    let run = start(config, fake.clone(), Mode::Once);
    let exit = exit_of(run.task).await;

    let delivered: Vec<_> = fake.attempts().iter().map(|(_, a)| a.id.clone()).collect();
    assert!(delivered.contains(&good), "{delivered:?}");
    assert!(
        delivered.contains(&bad_state),
        "a bad state alone does not lose the job: {delivered:?}"
    );
    assert_eq!(exit.remaining, 0);
    let quarantined: Vec<String> = std::fs::read_dir(spool.quarantine_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        quarantined
            .iter()
            .any(|n| n.starts_with("20261123-000000-00000000ff")),
        "{quarantined:?}"
    );
    assert!(
        quarantined
            .iter()
            .any(|n| n.starts_with(&format!("{bad_state}.state"))),
        "{quarantined:?}"
    );
}
