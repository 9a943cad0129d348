#![allow(clippy::unwrap_used)]
//! The notice is checked the way a mail program reads it: parsed back with
//! mail-parser, part by part, field by field.

use super::*;
use mail_parser::{MessageParser, MimeHeaders};
use std::time::Duration;

const HEADERS: &[u8] =
    b"From: Fax <fax@example.test>\r\nTo: nosuch@example.test, bob@example.test\r\n\
Subject: Fax from\r\n 555-1234\r\nMessage-ID: <1.2@example.test>\r\n";

fn job() -> JobId {
    JobId::parse("20261123-194200-0000000abc").unwrap()
}

fn origin() -> NoticeOrigin {
    NoticeOrigin::new("fax@example.test", "relay.example.test")
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn refused(text: &str) -> RecipientFate {
    RecipientFate::Failed {
        reason: "the server refused the recipient".into(),
        reply: Some(Reply::new(550, Some(EnhancedCode::new(5, 1, 1)), text)),
    }
}

fn accepted() -> RecipientFate {
    RecipientFate::Delivered {
        reply: Reply::new(
            250,
            Some(EnhancedCode::new(2, 0, 0)),
            "Ok: queued as 4dXyZ1",
        ),
    }
}

fn report<'a>(
    job: &'a JobId,
    origin: &'a NoticeOrigin,
    recipients: &'a [(String, RecipientFate)],
    kept_in: KeptIn,
) -> FailureReport<'a> {
    FailureReport {
        job,
        sender: "fax@example.test",
        recipients,
        original_headers: Some(HEADERS),
        subject: None,
        attempts: 1,
        remote_server: "mail.example.test:25",
        origin,
        arrival: Some(at(1_795_000_000)),
        last_attempt: at(1_795_000_060),
        kept_in,
    }
}

/// One parsed notice: its header, its three parts' types and bodies.
struct Parsed {
    raw: String,
    parts: Vec<(String, String)>,
}

impl Parsed {
    fn of(bytes: &[u8]) -> Parsed {
        let message = MessageParser::new().parse(bytes).unwrap();
        let ct = message.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        let parts = message
            .parts
            .iter()
            .skip(1)
            .map(|part| {
                let ct = part.content_type().unwrap();
                let mime = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""));
                let body = String::from_utf8_lossy(part.contents()).into_owned();
                (mime, body.replace("\r\n", "\n"))
            })
            .collect();
        Parsed {
            raw: String::from_utf8(bytes.to_vec()).unwrap(),
            parts,
        }
    }

    fn types(&self) -> Vec<&str> {
        self.parts.iter().map(|(t, _)| t.as_str()).collect()
    }

    fn text(&self) -> &str {
        &self.parts[0].1
    }

    /// The delivery-status blocks, each as its fields.
    fn blocks(&self) -> Vec<Vec<(String, String)>> {
        self.parts[1]
            .1
            .replace("\r\n", "\n")
            .split("\n\n")
            .map(|block| {
                block
                    .lines()
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_partly_refused_job_reports_the_refused_recipient_and_names_the_delivered_one() {
    let (job, origin) = (job(), origin());
    let recipients = [
        (
            "nosuch@example.test".to_string(),
            refused("<nosuch@example.test>: Recipient address rejected: User unknown"),
        ),
        ("bob@example.test".to_string(), accepted()),
    ];
    let bytes = build(&report(&job, &origin, &recipients, KeptIn::Sent)).unwrap();
    let parsed = Parsed::of(&bytes);
    let message = MessageParser::new().parse(&bytes).unwrap();
    assert_eq!(
        message.subject(),
        Some("Undelivered mail: Fax from 555-1234")
    );
    let from = message.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("MAILER-DAEMON@example.test"));
    assert_eq!(
        message.to().unwrap().first().unwrap().address(),
        Some("fax@example.test")
    );
    // Named after the original message (its Message-ID), so the notices of
    // two jobs made from one drop across a crash are the same notice.
    let id = message.message_id().unwrap();
    assert!(
        id.starts_with("notice.") && id.ends_with("@example.test"),
        "{id}"
    );
    let twin = vmail_core::JobId::parse("20261201-000000-ffffffffff").unwrap();
    let other_job = build(&report(&twin, &origin, &recipients, KeptIn::Sent)).unwrap();
    let again = MessageParser::new()
        .parse(&other_job)
        .unwrap()
        .message_id()
        .map(str::to_string);
    assert_eq!(again.as_deref(), Some(id), "the same message, another job");
    assert!(
        parsed.raw.contains("\r\nAuto-Submitted: auto-replied\r\n"),
        "{}",
        parsed.raw
    );
    assert_eq!(
        parsed.types(),
        [
            "text/plain",
            "message/delivery-status",
            "text/rfc822-headers"
        ]
    );

    let text = parsed.text();
    assert!(
        text.contains("to some of its recipients and has given up on them"),
        "{text}"
    );
    assert!(text.contains("  <nosuch@example.test>\n    the server's reply: 550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown\n"), "{text}");
    assert!(text.contains("Delivered to the others (the mail server accepted the message for them):\n\n  <bob@example.test>\n    the server's reply: 250 2.0.0 Ok: queued as 4dXyZ1\n"), "{text}");
    assert!(text.contains("kept in the spool's sent/ folder"), "{text}");
    assert!(
        text.contains("vfxadmin queue show 20261123-194200-0000000abc"),
        "{text}"
    );
    assert!(!text.contains("failed/"), "{text}");
    assert!(!text.contains("Reason: delivered"), "{text}");

    let blocks = parsed.blocks();
    assert_eq!(
        blocks.len(),
        2,
        "one per-message block, one refused recipient: {blocks:?}"
    );
    assert_eq!(
        field(&blocks[0], "Reporting-MTA"),
        Some("dns; relay.example.test")
    );
    assert_eq!(
        field(&blocks[0], "Arrival-Date"),
        Some("Wed, 18 Nov 2026 11:06:40 +0000")
    );
    let rcpt = &blocks[1];
    assert_eq!(
        field(rcpt, "Final-Recipient"),
        Some("rfc822; nosuch@example.test")
    );
    assert_eq!(field(rcpt, "Action"), Some("failed"));
    assert_eq!(field(rcpt, "Status"), Some("5.1.1"));
    assert_eq!(field(rcpt, "Remote-MTA"), Some("dns; mail.example.test"));
    assert_eq!(
        field(rcpt, "Diagnostic-Code"),
        Some("smtp; 550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown")
    );
    assert_eq!(
        field(rcpt, "Last-Attempt-Date"),
        Some("Wed, 18 Nov 2026 11:07:40 +0000")
    );
    assert!(!parsed.parts[1].1.contains("bob@"), "{}", parsed.parts[1].1);

    let headers = &parsed.parts[2].1;
    assert!(
        headers.contains("Message-ID: <1.2@example.test>"),
        "{headers}"
    );
    assert!(
        headers.contains("Subject: Fax from\n 555-1234"),
        "{headers}"
    );
}

#[test]
fn a_fully_failed_job_reports_every_recipient_with_its_own_reply() {
    let (job, origin) = (job(), origin());
    let recipients = [
        ("a@example.test".to_string(), refused("no such user")),
        (
            "b@example.test".to_string(),
            RecipientFate::Failed {
                reason: "the server refused the message".into(),
                reply: Some(Reply::new(554, None, "Transaction failed\nspam")),
            },
        ),
    ];
    let bytes = build(&report(&job, &origin, &recipients, KeptIn::Failed)).unwrap();
    let parsed = Parsed::of(&bytes);
    let text = parsed.text();
    assert!(
        text.contains("vmail could not deliver job 20261123-194200-0000000abc and has given up.\n"),
        "{text}"
    );
    assert!(
        text.contains("kept in the spool's failed/ folder"),
        "{text}"
    );
    assert!(!text.contains("Delivered"), "{text}");
    let blocks = parsed.blocks();
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    assert_eq!(
        field(&blocks[1], "Final-Recipient"),
        Some("rfc822; a@example.test")
    );
    assert_eq!(field(&blocks[1], "Status"), Some("5.1.1"));
    assert_eq!(
        field(&blocks[2], "Final-Recipient"),
        Some("rfc822; b@example.test")
    );
    assert_eq!(field(&blocks[2], "Action"), Some("failed"));
    assert_eq!(
        field(&blocks[2], "Status"),
        Some("5.0.0"),
        "derived from 554"
    );
    assert_eq!(
        field(&blocks[2], "Diagnostic-Code"),
        Some("smtp; 554 Transaction failed / spam")
    );
}

#[test]
fn deferred_recipients_are_delayed_and_reasons_without_a_reply_are_vmails_own() {
    let (job, origin) = (job(), origin());
    let recipients = [
        (
            "late@example.test".to_string(),
            RecipientFate::Deferred {
                reason: "the server asked to try later".into(),
                reply: Some(Reply::new(450, None, "mailbox busy")),
            },
        ),
        (
            "old@example.test".to_string(),
            RecipientFate::Failed {
                reason: "not delivered within max-lifetime (432000s)".into(),
                reply: None,
            },
        ),
    ];
    let mut r = report(&job, &origin, &recipients, KeptIn::Sent);
    r.original_headers = None;
    r.remote_server = "/var/spool/vmail/capture";
    r.arrival = None;
    let parsed = Parsed::of(&build(&r).unwrap());
    assert_eq!(parsed.types(), ["text/plain", "message/delivery-status"]);
    let blocks = parsed.blocks();
    assert_eq!(field(&blocks[0], "Arrival-Date"), None);
    assert_eq!(field(&blocks[1], "Action"), Some("delayed"));
    assert_eq!(field(&blocks[1], "Status"), Some("4.0.0"));
    assert_eq!(
        field(&blocks[1], "Remote-MTA"),
        None,
        "a folder is not an MTA"
    );
    assert_eq!(field(&blocks[2], "Status"), Some("5.0.0"));
    assert_eq!(
        field(&blocks[2], "Diagnostic-Code"),
        Some("X-vmail; not delivered within max-lifetime (432000s)")
    );
    assert!(
        parsed.text().contains("Still being tried"),
        "{}",
        parsed.text()
    );
    let subject = |r: &FailureReport<'_>| {
        MessageParser::new()
            .parse(&build(r).unwrap())
            .unwrap()
            .subject()
            .map(str::to_string)
    };
    assert_eq!(
        subject(&r).as_deref(),
        Some("Undelivered mail: job 20261123-194200-0000000abc")
    );
    r.subject = Some("Given");
    assert_eq!(subject(&r).as_deref(), Some("Undelivered mail: Given"));
    let message = MessageParser::new()
        .parse(&build(&r).unwrap())
        .unwrap()
        .subject()
        .map(str::to_string);
    assert!(message.is_some());
}

#[test]
fn the_same_failure_gives_the_same_message_id() {
    let (job, origin) = (job(), origin());
    let recipients = [("a@example.test".to_string(), refused("no"))];
    let id = |bytes: Vec<u8>| {
        MessageParser::new()
            .parse(&bytes)
            .unwrap()
            .message_id()
            .map(str::to_string)
    };
    let r = report(&job, &origin, &recipients, KeptIn::Failed);
    assert_eq!(id(build(&r).unwrap()), id(build(&r).unwrap()));
    let other = [("b@example.test".to_string(), refused("no"))];
    assert_ne!(
        id(build(&r).unwrap()),
        id(build(&report(&job, &origin, &other, KeptIn::Failed)).unwrap())
    );
}

#[test]
fn who_reports_and_what_cannot_be_reported() {
    assert_eq!(
        NoticeOrigin::new("Fax <fax@corp.test>", "relay.corp.test"),
        NoticeOrigin {
            host: "relay.corp.test".into(),
            domain: "corp.test".into()
        }
    );
    assert_eq!(
        NoticeOrigin::new("", "relay.corp.test").domain,
        "relay.corp.test"
    );
    let (job, origin) = (job(), origin());
    let recipients = [("a@example.test".to_string(), refused("no"))];
    let mut r = report(&job, &origin, &recipients, KeptIn::Failed);
    r.sender = "";
    assert!(matches!(build(&r), Err(DsnError::NullSender)));
    assert!(!wants_notice(""));
    r.sender = "not an address";
    assert_eq!(
        build(&r).unwrap_err().to_string(),
        "the sender `not an address` is not an address a notice can go to"
    );
    let delivered = [("a@example.test".to_string(), accepted())];
    let r = report(&job, &origin, &delivered, KeptIn::Sent);
    assert!(matches!(build(&r), Err(DsnError::NothingToReport)));
    assert_eq!(
        r.envelope(),
        Envelope::new("", vec!["fax@example.test".into()])
    );
}

#[test]
fn status_prefers_the_enhanced_code_of_the_right_class() {
    let failed = |code, enhanced| RecipientFate::Failed {
        reason: String::new(),
        reply: Some(Reply::new(code, enhanced, "x")),
    };
    assert_eq!(
        status(&failed(550, Some(EnhancedCode::new(5, 7, 1)))).to_string(),
        "5.7.1"
    );
    assert_eq!(
        status(&failed(450, Some(EnhancedCode::new(4, 2, 2)))).to_string(),
        "4.2.2"
    );
    assert_eq!(status(&failed(451, None)).to_string(), "4.0.0");
    assert_eq!(
        status(&failed(250, Some(EnhancedCode::new(2, 0, 0)))).to_string(),
        "5.0.0"
    );
    assert_eq!(
        remote_host("[2001:db8::1]:25").as_deref(),
        Some("[2001:db8::1]")
    );
    assert_eq!(remote_host("127.0.0.1:25").as_deref(), Some("[127.0.0.1]"));
    assert_eq!(
        remote_host("smtp.example.test:587").as_deref(),
        Some("smtp.example.test")
    );
}

#[test]
#[ignore = "prints a notice to look at: cargo test -p vmail-message -- --ignored --nocapture"]
fn print_a_partly_refused_notice() {
    let (job, origin) = (job(), origin());
    let recipients = [
        (
            "nosuch@example.test".to_string(),
            refused("<nosuch@example.test>: Recipient address rejected: User unknown"),
        ),
        ("bob@example.test".to_string(), accepted()),
    ];
    let bytes = build(&report(&job, &origin, &recipients, KeptIn::Sent)).unwrap();
    println!("{}", String::from_utf8_lossy(&bytes));
}

#[test]
fn mailer_daemon_and_the_message_id_share_the_from_domain_or_the_helo_name() {
    let job = job();
    let recipients = [("a@example.test".to_string(), refused("no"))];
    for (from, helo, domain) in [
        ("Fax <fax@corp.test>", "relay", "corp.test"),
        ("", "relay.corp.test", "relay.corp.test"),
    ] {
        let origin = NoticeOrigin::new(from, helo);
        let bytes = build(&report(&job, &origin, &recipients, KeptIn::Failed)).unwrap();
        let message = MessageParser::new().parse(&bytes).unwrap();
        let sender = message.from().unwrap().first().unwrap().address().unwrap();
        assert_eq!(sender, format!("MAILER-DAEMON@{domain}"));
        let id = message.message_id().unwrap();
        assert!(id.ends_with(&format!("@{domain}")), "{id}");
        assert!(!id.ends_with("@localhost"), "{id}");
    }
}
