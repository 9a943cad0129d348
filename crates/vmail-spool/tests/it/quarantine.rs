use std::os::unix::fs::symlink;
use std::path::PathBuf;

use vmail_spool::{IngestError, Spool};

use crate::{drop_file, names, spool};

/// Ingests `path`, expects it quarantined, returns the full error text.
fn refused(spool: &Spool, path: &PathBuf) -> String {
    let err = spool.ingest(path, "", 1 << 20).unwrap_err();
    let IngestError::Quarantined(corrupt) = &err else {
        panic!("expected a quarantine, got {err}")
    };
    let dest = corrupt.quarantined.clone().unwrap();
    assert!(
        std::fs::symlink_metadata(&dest).is_ok(),
        "{dest:?} is in quarantine"
    );
    assert!(
        std::fs::symlink_metadata(path).is_err(),
        "{path:?} left in/"
    );
    let name = dest.file_name().unwrap().to_string_lossy().into_owned();
    let note =
        std::fs::read_to_string(spool.quarantine_dir().join(format!("{name}.reason"))).unwrap();
    assert_eq!(note, format!("{err}\n"));
    assert!(spool.ids().unwrap().is_empty());
    err.to_string()
}

#[test]
fn garbage_empty_and_unknown_files_are_quarantined_with_a_reason() {
    let (_dir, spool) = spool();
    let cases: [(&str, &[u8], &str); 7] = [
        (
            "garbage.eml",
            b"\x7fELF\x02\x01\x01\x00\x00\x00",
            "contains NUL bytes in line 1: it is not a text message",
        ),
        (
            "words.eml",
            b"hello, this is not mail\n\n",
            "has no header field in line 1 (expected `Name: value`); it is not an RFC 5322 message",
        ),
        (
            "nul.eml",
            b"To: a@x\n\x00\x00\n\nbody",
            "contains NUL bytes in line 2: it is not a text message",
        ),
        ("empty.eml", b"", "is empty"),
        (
            "fax.pdf",
            b"%PDF-1.4",
            "has an unknown suffix: drop a whole message as NAME.eml or a job file as NAME.job",
        ),
        (
            "norcpt.eml",
            b"From: a@x.org\nSubject: hi\n\nbody",
            "has no recipients: no address in its To, Cc or Bcc fields",
        ),
        (
            "nofrom.eml",
            b"To: a@x.org\n\nbody",
            "has no sender: no address in its From field, and [VMAIL] from is not set",
        ),
    ];
    for (name, bytes, reason) in cases {
        let path = drop_file(&spool, name, bytes);
        assert_eq!(
            refused(&spool, &path),
            format!("{}: {reason}", path.display())
        );
    }
}

#[test]
fn a_drop_over_the_limit_is_quarantined_with_both_sizes() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "big.eml", &[b'x'; 100]);
    let err = spool.ingest(&path, "", 10).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: is 100 bytes, over the limit of 10 bytes",
            path.display()
        )
    );
}

#[test]
fn symbolic_and_hard_links_are_refused() {
    let (dir, spool) = spool();
    let secret = dir.path().join("secret.eml");
    std::fs::write(&secret, "To: a@x.org\nFrom: b@x.org\n\nsecret\n").unwrap();

    let link = spool.in_dir().join("link.eml");
    symlink(&secret, &link).unwrap();
    assert_eq!(spool.drops().unwrap(), vec![link.clone()]);
    assert_eq!(
        refused(&spool, &link),
        format!(
            "{}: is a symbolic link; vmail does not follow links",
            link.display()
        )
    );

    let hard = spool.in_dir().join("hard.eml");
    std::fs::hard_link(&secret, &hard).unwrap();
    assert_eq!(
        refused(&spool, &hard),
        format!(
            "{}: has 2 hard links; a dropped file must have exactly one",
            hard.display()
        )
    );
    assert!(secret.exists(), "the linked file itself is untouched");
}

#[test]
fn a_second_drop_with_the_same_name_gets_its_own_quarantine_name() {
    let (_dir, spool) = spool();
    for _ in 0..2 {
        let path = drop_file(&spool, "x.bin", b"junk");
        spool.ingest(&path, "", 100).unwrap_err();
    }
    assert_eq!(
        names(&spool.quarantine_dir()),
        vec!["x.bin", "x.bin.1", "x.bin.1.reason", "x.bin.reason"]
    );
}

#[test]
fn job_files_that_reach_outside_or_make_no_sense_are_refused() {
    let (dir, spool) = spool();
    let outside = dir.path().join("passwd");
    std::fs::write(&outside, "root:x:0:0").unwrap();
    std::fs::create_dir(spool.in_dir().join("files")).unwrap();
    symlink(&outside, spool.in_dir().join("files/link.pdf")).unwrap();
    symlink(dir.path(), spool.in_dir().join("dirlink")).unwrap();
    let cases = [
        (
            "to = a@x.org\nfrom = b@x.org\nattach = /etc/passwd\n",
            "attach `/etc/passwd` is an absolute path; name a file beside the job file",
        ),
        (
            "to = a@x.org\nfrom = b@x.org\nattach = files/../../passwd\n",
            "attach `files/../../passwd` leaves the drop folder (`..` is refused)",
        ),
        (
            "to = a@x.org\nfrom = b@x.org\nattach = files/link.pdf\n",
            "attach `files/link.pdf` is a symbolic link; vmail does not follow links",
        ),
        (
            "to = a@x.org\nfrom = b@x.org\nattach = dirlink/passwd\n",
            "attach `dirlink/passwd` is a symbolic link; vmail does not follow links",
        ),
        (
            "to = a@x.org\nfrom = b@x.org\nattach = files/missing.pdf\n",
            "attach `files/missing.pdf` cannot be read: No such file or directory (os error 2)",
        ),
        (
            "to = a@x.org\nfrom = b@x.org\nfax = 555\n",
            "line 3: unknown key `fax` (known: to, cc, bcc, from, subject, body, body-file, attach, attach-as, template, notify, ret)",
        ),
        (
            "from = b@x.org\nsubject = x\n",
            "has no recipients: `to`, `cc` and `bcc` are all empty",
        ),
        (
            "to = not an address\nfrom = b@x.org\n",
            "`to = not an address` is not a list of addresses",
        ),
        (
            "to = a@x.org\n",
            "has no sender: no `from` key, and [VMAIL] from is not set",
        ),
        ("just some words\n", "line 1 is not `key = value`"),
    ];
    for (n, (text, reason)) in cases.into_iter().enumerate() {
        let path = drop_file(&spool, &format!("{n}.job"), text.as_bytes());
        assert_eq!(
            refused(&spool, &path),
            format!("{}: {reason}", path.display())
        );
    }
    assert!(outside.exists());
}

#[test]
fn a_job_whose_packed_message_is_over_the_limit_says_so() {
    let (_dir, spool) = spool();
    std::fs::create_dir(spool.in_dir().join("f")).unwrap();
    std::fs::write(spool.in_dir().join("f/a.bin"), vec![7u8; 900]).unwrap();
    let path = drop_file(
        &spool,
        "big.job",
        b"to = a@x.org\nfrom = b@x.org\nattach = f/a.bin\n",
    );
    let err = spool.ingest(&path, "", 1000).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: makes a message of ", path.display())),
        "{err}"
    );
    assert!(
        err.ends_with(" bytes, over the limit of 1000 bytes"),
        "{err}"
    );
    let path = drop_file(
        &spool,
        "big2.job",
        b"to = a@x.org\nfrom = b@x.org\nattach = f/a.bin\n",
    );
    assert_eq!(
        spool.ingest(&path, "", 500).unwrap_err().to_string(),
        format!(
            "{}: attach `f/a.bin` makes the job larger than the limit of 500 bytes",
            path.display()
        )
    );
}
