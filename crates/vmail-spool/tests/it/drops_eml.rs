use std::io::Read;

use crate::{drop_file, names, spool};

const EML: &str = "From: \"Fax Server\" <fax@example.com>\r\n\
Date: Mon, 23 Nov 2026 19:42:00 +0000\r\n\
Message-ID: <report-1@example.com>\r\n\
To: \"Doe, Ann\" <ann@example.org>, bob@example.org (Bob)\r\n\
Cc: Team: carl@example.net, \"Dee\" <dee@example.net>;\r\n\
Bcc: secret@example.com,\r\n\x20\"Hidden Too\" <hidden@example.com>\r\n\
Subject: report\r\n\
\r\n\
Bcc: this line is body text, not a header\r\n";

#[test]
fn an_eml_drop_gets_its_envelope_from_the_header_and_loses_its_bcc() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "report.eml", EML.as_bytes());
    assert_eq!(spool.drops().unwrap(), vec![path.clone()]);

    let id = spool.ingest(&path, "", 1 << 20).unwrap();
    assert!(!path.exists(), "the drop is removed once queued");
    let job = spool.load(&id).unwrap();
    assert_eq!(job.envelope.from, "fax@example.com");
    assert_eq!(
        job.envelope.recipients,
        vec![
            "ann@example.org",
            "bob@example.org",
            "carl@example.net",
            "dee@example.net",
            "secret@example.com",
            "hidden@example.com"
        ]
    );
    let mut queued = String::new();
    spool
        .open_message(&id)
        .unwrap()
        .read_to_string(&mut queued)
        .unwrap();
    let expected = EML.replace(
        "Bcc: secret@example.com,\r\n \"Hidden Too\" <hidden@example.com>\r\n",
        "",
    );
    assert_eq!(queued, expected);
    assert!(queued.contains("\r\n\r\nBcc: this line is body text"));
}

#[test]
fn the_configured_sender_wins_over_the_from_field() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "a.eml", EML.as_bytes());
    let id = spool.ingest(&path, "relay@example.com", 1 << 20).unwrap();
    assert_eq!(spool.load(&id).unwrap().envelope.from, "relay@example.com");
}

#[test]
fn a_message_without_date_or_message_id_gets_them() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "bare.eml", b"To: b@y.org\n\nhi\n");
    let id = spool.ingest(&path, "fax@x.org", 1 << 20).unwrap();
    let mut queued = String::new();
    spool
        .open_message(&id)
        .unwrap()
        .read_to_string(&mut queued)
        .unwrap();
    let lines: Vec<&str> = queued.lines().collect();
    assert_eq!(lines[0], "From: fax@x.org");
    assert!(lines[1].starts_with("Date: ") && lines[2].starts_with("Message-ID: <"));
    assert_eq!(&lines[3..], ["To: b@y.org", "", "hi"]);
}

#[test]
fn a_large_eml_is_streamed_through_intact() {
    let (_dir, spool) = spool();
    let mut message = b"From: a@x.org\nTo: b@y.org\nDate: Mon, 23 Nov 2026 19:42:00 +0000\nMessage-ID: <big@x.org>\n\n".to_vec();
    message.extend((0..3_000_000u32).map(|n| b"abcdefghij\n"[(n % 11) as usize]));
    let path = drop_file(&spool, "big.eml", &message);
    let id = spool.ingest(&path, "", 10 << 20).unwrap();
    let mut back = Vec::new();
    spool
        .open_message(&id)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert!(back == message, "the queued message differs");
}

#[test]
fn dot_files_tmp_files_and_folders_are_not_drops() {
    let (_dir, spool) = spool();
    drop_file(&spool, "x.tmp", b"half");
    std::fs::write(spool.in_dir().join(".writing.eml"), b"half").unwrap();
    std::fs::create_dir(spool.in_dir().join("job.files")).unwrap();
    assert!(spool.drops().unwrap().is_empty());
    assert_eq!(
        names(&spool.in_dir()),
        vec![".writing.eml", "job.files", "x.tmp"]
    );
}

#[test]
fn many_drops_are_queued_with_one_group_commit() {
    let (_dir, spool) = spool();
    for n in 0..10 {
        drop_file(
            &spool,
            &format!("{n:02}.eml"),
            format!("To: r{n}@x.org\n\nhi\n").as_bytes(),
        );
    }
    drop_file(&spool, "bad.bin", b"\x00\x01");
    let drops = spool.drops().unwrap();
    let results = spool.ingest_many(&drops, "s@x.org", 1 << 20);
    assert_eq!(results.len(), 11);
    assert!(results[10].as_ref().unwrap_err().corrupt().is_some());
    for (n, result) in results[..10].iter().enumerate() {
        let job = spool.load(result.as_ref().unwrap()).unwrap();
        assert_eq!(job.envelope.recipients, vec![format!("r{n}@x.org")]);
    }
    assert!(names(&spool.in_dir()).is_empty());
}
