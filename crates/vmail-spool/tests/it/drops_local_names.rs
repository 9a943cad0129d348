//! Drops that address local users (`to = root`, `To: root`): placed as
//! `[VMAIL] admin-address` and `local-domain` say, with the rewrite in the
//! job log's first line; without them, quarantined with the reason.

use std::io::Read;

use vmail_message::LocalNames;

use crate::{drop_file, spool};

#[test]
fn a_job_file_to_root_goes_to_the_admin_address() {
    let (_dir, spool) = spool();
    let names = LocalNames::new(Some("admin@example.com"), Some("host.example.com"));
    let path = drop_file(
        &spool,
        "cron.job",
        b"[job]\nto = root, ann@example.org\ncc = postmaster\nfrom = cron\nsubject = backup\nbody = done\n",
    );
    let results = spool.ingest_many_named(&[path], "", &names, 1 << 20);
    let id = results.into_iter().next().unwrap().unwrap();
    let queued = spool.load(&id).unwrap();
    assert_eq!(queued.envelope.from, "cron@host.example.com");
    assert_eq!(
        queued.envelope.recipients,
        ["admin@example.com", "ann@example.org"]
    );
    let note = queued.note.unwrap();
    assert!(
        note.ends_with(
            "queued from in/cron.job\
             ; sender cron rewritten to cron@host.example.com ([VMAIL] local-domain)\
             ; recipient root rewritten to admin@example.com ([VMAIL] admin-address)\
             ; recipient postmaster rewritten to admin@example.com ([VMAIL] admin-address)"
        ),
        "{note}"
    );
    let mut raw = String::new();
    spool
        .open_message(&id)
        .unwrap()
        .read_to_string(&mut raw)
        .unwrap();
    assert!(raw.starts_with("From: cron@host.example.com\r\n"), "{raw}");
}

#[test]
fn an_eml_to_root_takes_the_local_domain_and_keeps_its_header() {
    let (_dir, spool) = spool();
    let names = LocalNames::new(None, Some("host.example.com"));
    let path = drop_file(
        &spool,
        "cron.eml",
        b"From: fax@example.com\nTo: root\nSubject: s\n\nhi\n",
    );
    let id = spool
        .ingest_many_named(&[path], "", &names, 1 << 20)
        .pop()
        .unwrap()
        .unwrap();
    let queued = spool.load(&id).unwrap();
    assert_eq!(queued.envelope.recipients, ["root@host.example.com"]);
    assert!(
        queued.note.unwrap().ends_with(
            "; recipient root rewritten to root@host.example.com ([VMAIL] local-domain)"
        )
    );
}

#[test]
fn without_the_keys_a_job_file_to_root_is_quarantined() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "cron.job", b"to = root\nbody = done\n");
    let err = spool.ingest(&path, "fax@example.com", 1 << 20).unwrap_err();
    assert!(err.to_string().contains("cron.job"), "{err}");
    assert!(spool.quarantine_dir().join("cron.job").exists());
}

#[test]
fn an_eml_name_nothing_places_is_left_out_as_before() {
    let (_dir, spool) = spool();
    let path = drop_file(
        &spool,
        "fax.eml",
        b"From: fax@example.com\nTo: Fax, ann@example.org\nSubject: s\n\nhi\n",
    );
    let id = spool.ingest(&path, "", 1 << 20).unwrap();
    assert_eq!(
        spool.load(&id).unwrap().envelope.recipients,
        ["ann@example.org"]
    );
    let path = drop_file(
        &spool,
        "root.eml",
        b"From: fax@example.com\nTo: root\n\nhi\n",
    );
    let err = spool.ingest(&path, "", 1 << 20).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("root.eml: has no recipients: no address in its To, Cc or Bcc fields"),
        "{err}"
    );
    let path = drop_file(&spool, "cron.eml", b"From: cron\nTo: a@example.org\n\nhi\n");
    let err = spool.ingest(&path, "", 1 << 20).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "cron.eml: has no sender: no address in its From field, and [VMAIL] from is not set"
        ),
        "{err}"
    );
    let names = LocalNames::new(None, Some("host.example.com"));
    let path = drop_file(
        &spool,
        "cron2.eml",
        b"From: cron\nTo: a@example.org\n\nhi\n",
    );
    let id = spool
        .ingest_many_named(&[path], "", &names, 1 << 20)
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(
        spool.load(&id).unwrap().envelope.from,
        "cron@host.example.com"
    );
}
