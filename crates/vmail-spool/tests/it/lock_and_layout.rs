use std::os::unix::fs::PermissionsExt;

use vmail_spool::{Recovery, Spool, SpoolError};

use crate::{envelope, names, spool};

#[test]
fn open_creates_the_layout_with_private_modes() {
    let (_dir, spool) = spool();
    assert_eq!(
        names(spool.root()),
        vec![
            "failed",
            "in",
            "logs",
            "maildrop",
            "quarantine",
            "queue",
            "sent",
            "tmp"
        ]
    );
    for name in names(spool.root()) {
        let mode = std::fs::metadata(spool.root().join(&name))
            .unwrap()
            .permissions()
            .mode();
        // maildrop/: vmail-postdrop's group may create, nobody may list.
        let want = if name == "maildrop" { 0o1730 } else { 0o750 };
        assert_eq!(mode & 0o7777, want, "{name}");
    }
    let id = spool
        .submit(&envelope("a@x", &["b@y"]), &b"m"[..], 10)
        .unwrap();
    let mode = std::fs::metadata(spool.message_path(&id))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn a_queue_folder_writable_by_others_is_refused_with_the_fix() {
    let (_dir, spool) = spool();
    let queue = spool.queue_dir();
    std::fs::set_permissions(&queue, std::fs::Permissions::from_mode(0o772)).unwrap();
    let err = Spool::open(spool.root()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "spool directory {0} is writable by others (mode 0772); fix it with `chmod o-w {0}`",
            queue.display()
        )
    );
}

#[test]
fn a_second_lock_holder_is_told_the_running_pid() {
    let (_dir, spool) = spool();
    let lock = spool.lock().unwrap();
    let pid = std::fs::read_to_string(lock.path()).unwrap();
    assert_eq!(pid.trim(), std::process::id().to_string());

    let err = Spool::open(spool.root()).unwrap().lock().unwrap_err();
    assert!(matches!(err, SpoolError::AlreadyRunning { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "vmaild is already running on {} (pid {})",
            spool.root().display(),
            std::process::id()
        )
    );
    drop(lock);
    spool.lock().unwrap();
}

#[test]
fn recover_empties_tmp_and_repairs_half_finished_jobs() {
    let (_dir, spool) = spool();
    std::fs::write(
        spool.tmp_dir().join("20261123-000000-00000000aa.123.abc"),
        b"Fa@x\nTb",
    )
    .unwrap();
    std::fs::create_dir(spool.tmp_dir().join("stray")).unwrap();
    let env = envelope("a@x", &["b@y"]);
    let sent = spool.submit(&env, &b"m"[..], 10).unwrap();
    let state = spool.hold(&sent).unwrap();
    // A crash between the two renames of finish_sent:
    std::fs::rename(
        spool.message_path(&sent),
        spool.sent_dir().join(sent.as_str()),
    )
    .unwrap();
    let gone = spool.submit(&env, &b"m"[..], 10).unwrap();
    spool.hold(&gone).unwrap();
    std::fs::remove_file(spool.message_path(&gone)).unwrap();
    let kept = spool.submit(&env, &b"m"[..], 10).unwrap();

    let recovery = spool.recover().unwrap();
    assert_eq!(
        recovery,
        Recovery {
            temp_removed: 2,
            states_finished: 1,
            orphan_states_removed: 1,
            queued: 1
        }
    );
    assert!(names(&spool.tmp_dir()).is_empty());
    assert_eq!(names(&spool.queue_dir()), vec![kept.to_string()]);
    let moved = std::fs::read_to_string(spool.sent_dir().join(format!("{sent}.state"))).unwrap();
    assert_eq!(moved, state.to_text());
}

#[test]
fn the_root_may_be_a_link_but_the_folders_inside_may_not() {
    let (dir, spool) = spool();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(spool.root(), &link).unwrap();
    Spool::open(&link).unwrap();

    std::fs::remove_dir(spool.root().join("sent")).unwrap();
    std::os::unix::fs::symlink(dir.path(), spool.root().join("sent")).unwrap();
    let err = Spool::open(spool.root()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a directory; the spool needs a directory there",
            spool.root().join("sent").display()
        )
    );
}

/// vfx writes in tmp/ without the daemon's lock: a daemon starting in the
/// middle must leave the file of a writer that is still alive, and remove
/// those of dead writers, old files and names of another shape.
#[test]
fn recovery_leaves_the_temp_file_of_a_live_writer() {
    let (_dir, spool) = spool();
    let alive = std::os::unix::process::parent_id();
    let dead = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let nonce = "0123456789abcdef";
    let writing = format!("20261123-000000-00000000aa.{alive}.{nonce}");
    let state = format!("20261123-000000-00000000aa.state.{alive}.{nonce}");
    let crashed = format!("20261123-000000-00000000bb.{dead}.{nonce}");
    let old = format!("20261123-000000-00000000cc.{alive}.{nonce}");
    let ours = format!("20261123-000000-00000000dd.{}.{nonce}", std::process::id());
    let odd = format!("leftover.{alive}.abc");
    for name in [&writing, &state, &crashed, &old, &ours, &odd] {
        std::fs::write(spool.tmp_dir().join(name), b"x").unwrap();
    }
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(spool.tmp_dir().join(&old))
        .unwrap()
        .set_modified(long_ago)
        .unwrap();

    let recovery = spool.recover().unwrap();
    assert_eq!(recovery.temp_removed, 4);
    let mut kept = vec![state, writing];
    kept.sort();
    assert_eq!(names(&spool.tmp_dir()), kept);
}
