//! `vfx` run as the real binary on a capture-mode spool: what it queues,
//! parsed back, and every refusal with its exact text and nothing queued.
use crate::common;

use common::*;
use mail_parser::{MessageParser, MimeHeaders};

const PDF: &[u8] = b"%PDF-1.4\n\x00\x01\x02\xff binary\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake";

#[test]
fn two_attachments_with_a_cover_page_are_queued_and_parse_back() {
    let env = Env::new();
    env.file("invoice.pdf", PDF);
    env.file("logo.png", PNG);
    let run = env.run(
        "vfx",
        &[
            "-n",
            "ann@example.test,bob@example.test",
            "-n",
            "cy@example.test",
            "-s",
            "Invoice 42",
            "-m",
            "Please sign.",
            "-C",
            "classic",
            "invoice.pdf",
            "logo.png",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let id = run.stdout.trim();
    assert_eq!(env.queued(), [id]);
    let (envelope, message) = env.only_job();
    assert_eq!(
        envelope,
        "Ffax@example.test\nTann@example.test\nTbob@example.test\nTcy@example.test\n"
    );
    let parsed = MessageParser::new().parse(&message).unwrap();
    assert_eq!(parsed.subject(), Some("Invoice 42"));
    assert!(parsed.date().is_some() && parsed.message_id().is_some());
    let cover = parsed.body_text(0).unwrap();
    for part in [
        "COVER PAGE",
        "fax@example.test",
        "ann@example.test, bob@example.test, cy@example.test",
        "Invoice 42",
        "Please sign.",
        "invoice.pdf (",
        "logo.png (",
    ] {
        assert!(
            cover.contains(part),
            "{part} missing from the cover page:\n{cover}"
        );
    }
    let attachments: Vec<_> = parsed.attachments().collect();
    assert_eq!(attachments.len(), 2);
    let expected = [
        ("invoice.pdf", "application/pdf", PDF),
        ("logo.png", "image/png", PNG),
    ];
    for (part, (name, mime, bytes)) in attachments.iter().zip(expected) {
        assert_eq!(part.attachment_name(), Some(name));
        let ct = part.content_type().unwrap();
        assert_eq!(format!("{}/{}", ct.ctype(), ct.subtype().unwrap()), mime);
        assert_eq!(part.contents(), bytes, "{name} comes back byte for byte");
    }
    // The log's first line waits in the queue entry: vfx creates one file.
    assert!(!env.spool().join("logs").join(format!("{id}.log")).exists());
    let spool = vmail_spool::Spool::open(env.spool()).unwrap();
    let job = spool.load(&vmail_core::JobId::parse(id).unwrap()).unwrap();
    let note = job.note.unwrap();
    assert!(note.contains(" submitted by vfx (uid "), "{note}");
    assert!(
        note.contains(") to ann@example.test, bob@example.test, cy@example.test: 2 file(s), "),
        "{note}"
    );
}

#[test]
fn the_cover_page_alone() {
    let env = Env::new();
    let run = env.run(
        "vfx",
        &["-n", "ann@example.test", "-O", "-C", "classic"],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (_, message) = env.only_job();
    let parsed = MessageParser::new().parse(&message).unwrap();
    assert_eq!(parsed.attachments().count(), 0);
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains("COVER PAGE") && text.contains("Attachments: none"),
        "{text}"
    );
    // -O alone means the classic page too.
    let run = env.run("vfx", &["-n", "ann@example.test", "-O"], b"");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.queued().len(), 2);
}

fn refused(env: &Env, args: &[&str], expected: &str) {
    let run = env.run("vfx", args, b"");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stderr, format!("vfx: {expected}; nothing was queued\n"));
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(env.queued().is_empty(), "nothing queued after {args:?}");
}

#[test]
fn refusals_name_what_is_wrong_and_queue_nothing() {
    let env = Env::with_vmail("max-message-size = 1k");
    env.file("ok.txt", b"fine\n");
    env.file("big.bin", &[7u8; 2000]);
    refused(
        &env,
        &["-n", "ann@example.test", "ok.txt", "missing.pdf"],
        "cannot read missing.pdf: no such file",
    );
    refused(
        &env,
        &["-n", "ann@example.test,not-an-address", "ok.txt"],
        "`not-an-address` is not an email address (-n)",
    );
    refused(
        &env,
        &["-n", "ann@example.test", "-C", "fancy", "ok.txt"],
        "no cover page `fancy` (built in: classic; or give a path to a template file)",
    );
    refused(
        &env,
        &["-n", "ann@example.test", "ok.txt", "big.bin"],
        "big.bin is 2000 bytes: the job would be over [VMAIL] max-message-size (1024 bytes)",
    );
    refused(
        &env,
        &["-n", "ann@example.test", "-f", "nobody", "ok.txt"],
        "`nobody` is not an email address (the sender)",
    );
    refused(
        &env,
        &["-n", "ann@example.test", "."],
        ". is not a regular file",
    );
    refused(
        &env,
        &["-n", "ann@example.test"],
        "nothing to send: name files, or give a note (-m) or a cover page (-C, -O)",
    );
}

#[test]
fn a_cover_page_template_can_be_a_file() {
    let env = Env::new();
    let template = env.file(
        "acme.txt",
        b"ACME FAX for {recipients} from {sender}: {note}\n{files}\n",
    );
    env.file("a.txt", b"text\n");
    let run = env.run(
        "vfx",
        &[
            "-n",
            "Ann <ann@example.test>",
            "-m",
            "see attached",
            "-C",
            template.to_str().unwrap(),
            "a.txt",
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (_, message) = env.only_job();
    let parsed = MessageParser::new().parse(&message).unwrap();
    assert_eq!(
        parsed
            .body_text(0)
            .unwrap()
            .replace("\r\n", "\n")
            .trim_end(),
        "ACME FAX for Ann <ann@example.test> from fax@example.test: see attached\n  a.txt (5 bytes)"
    );
}
