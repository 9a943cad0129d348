use std::io::Read;

use vmail_spool::SpoolError;

use crate::{envelope, names, spool};

#[test]
fn a_submitted_job_loads_back_whole() {
    let (_dir, spool) = spool();
    let env = envelope("fax@example.com", &["a@example.org", "b@example.net"]);
    let message = b"From: fax@example.com\r\nTo: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
    let id = spool.submit(&env, &message[..], 1 << 20).unwrap();

    let job = spool.load(&id).unwrap();
    assert_eq!(job.id, id);
    assert_eq!(job.envelope, env);
    assert_eq!(job.size, message.len() as u64);
    assert_eq!(job.state.attempts, 0);
    assert!(!job.state.held && job.state.next_due.is_none());
    assert_eq!(job.message_path, spool.queue_dir().join(id.as_str()));

    let mut reader = spool.open_message(&id).unwrap();
    assert_eq!(reader.len(), message.len() as u64);
    let mut back = Vec::new();
    reader.read_to_end(&mut back).unwrap();
    assert_eq!(back, message);
    assert!(names(&spool.tmp_dir()).is_empty());
}

#[test]
fn a_message_over_the_limit_is_refused_with_both_sizes_and_nothing_is_queued() {
    let (_dir, spool) = spool();
    let env = envelope("", &["a@example.org"]);
    let big = vec![b'x'; 5000];
    let err = spool.submit(&env, &big[..], 4096).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the message is 5000 bytes, over the limit of 4096 bytes; nothing was queued"
    );
    assert!(matches!(
        err,
        SpoolError::TooLarge {
            size: 5000,
            limit: 4096
        }
    ));
    assert!(names(&spool.queue_dir()).is_empty());
    assert!(names(&spool.tmp_dir()).is_empty());
    // Exactly at the limit is fine.
    spool.submit(&env, &big[..4096], 4096).unwrap();
}

#[test]
fn an_envelope_that_cannot_be_stored_is_refused() {
    let (_dir, spool) = spool();
    let err = spool
        .submit(&envelope("a@x", &[]), &b"x"[..], 10)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad envelope: there are no recipients; nothing was queued"
    );
    let err = spool
        .submit(&envelope("a@x", &["b@x\nTc@evil"]), &b"x"[..], 10)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad envelope: the recipient \"b@x\\nTc@evil\" contains a space or a control character; nothing was queued"
    );
}

#[test]
fn a_batch_commits_many_jobs_in_order() {
    let (_dir, spool) = spool();
    let mut batch = spool.batch();
    for n in 0..20 {
        let msg = format!("Subject: {n}\r\n\r\n{n}\r\n");
        batch
            .add(&envelope("a@x", &["b@y"]), msg.as_bytes(), 1000)
            .unwrap();
    }
    assert_eq!(batch.len(), 20);
    let ids = batch.commit().unwrap();
    assert_eq!(ids.len(), 20);
    for (n, id) in ids.iter().enumerate() {
        let mut text = String::new();
        spool
            .open_message(id)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, format!("Subject: {n}\r\n\r\n{n}\r\n"));
    }
    assert_eq!(spool.ids().unwrap().len(), 20);
}

#[test]
fn a_dropped_batch_leaves_nothing_behind() {
    let (_dir, spool) = spool();
    let mut batch = spool.batch();
    batch
        .add(&envelope("a@x", &["b@y"]), &b"x"[..], 10)
        .unwrap();
    drop(batch);
    assert!(names(&spool.tmp_dir()).is_empty());
    assert!(names(&spool.queue_dir()).is_empty());
}
