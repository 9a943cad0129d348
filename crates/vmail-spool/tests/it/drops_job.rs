use std::io::Read;

use mail_parser::{MessageParser, MimeHeaders};

use crate::{drop_file, names, spool};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";

#[test]
fn a_job_file_with_two_attachments_becomes_a_mime_message() {
    let (_dir, spool) = spool();
    let files = spool.in_dir().join("inv.files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("invoice.pdf"), PDF).unwrap();
    std::fs::write(files.join("logo.png"), PNG).unwrap();
    let job = "[job]\n# an invoice\nto = \"Doe, Ann\" <ann@example.org>\ncc = carl@example.net\n\
               bcc = archive@example.com\nfrom = Fax Server <fax@example.com>\nsubject = Invoice 42\n\
               body = Please find the invoice attached.\nbody = Regards\n\
               attach = inv.files/invoice.pdf\nattach = inv.files/logo.png\n";
    let path = drop_file(&spool, "inv.job", job.as_bytes());

    let id = spool.ingest(&path, "", 1 << 20).unwrap();
    let queued = spool.load(&id).unwrap();
    assert_eq!(queued.envelope.from, "fax@example.com");
    assert_eq!(
        queued.envelope.recipients,
        vec!["ann@example.org", "carl@example.net", "archive@example.com"]
    );
    let mut raw = Vec::new();
    spool
        .open_message(&id)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        !text.contains("archive@example.com"),
        "Bcc must not be in the message"
    );

    let message = MessageParser::new().parse(&raw).unwrap();
    assert_eq!(message.subject(), Some("Invoice 42"));
    assert!(message.date().is_some());
    assert!(message.message_id().unwrap().ends_with("@example.com"));
    assert_eq!(message.content_type().unwrap().subtype(), Some("mixed"));
    assert_eq!(
        message
            .body_text(0)
            .unwrap()
            .replace("\r\n", "\n")
            .trim_end(),
        "Please find the invoice attached.\nRegards"
    );
    assert_eq!(message.attachment_count(), 2);
    let pdf = message.attachment(0).unwrap();
    assert_eq!(pdf.attachment_name(), Some("invoice.pdf"));
    let ct = pdf.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
    assert_eq!(pdf.contents(), PDF);
    let png = message.attachment(1).unwrap();
    let ct = png.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("image", Some("png")));
    assert_eq!(png.contents(), PNG);

    // The job file, its attachments and their emptied folder are gone.
    assert!(names(&spool.in_dir()).is_empty());
}

#[test]
fn a_job_without_attachments_is_plain_text_and_takes_the_default_sender() {
    let (_dir, spool) = spool();
    let path = drop_file(&spool, "n.job", b"to = a@x.org, b@x.org\nbody = hello\n");
    let id = spool.ingest(&path, "fax@x.org", 1 << 20).unwrap();
    let job = spool.load(&id).unwrap();
    assert_eq!(job.envelope.from, "fax@x.org");
    assert_eq!(job.envelope.recipients, vec!["a@x.org", "b@x.org"]);
    let mut raw = Vec::new();
    spool
        .open_message(&id)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let message = MessageParser::new().parse(&raw).unwrap();
    assert_eq!(
        message.from().unwrap().first().unwrap().address(),
        Some("fax@x.org")
    );
    assert_eq!(message.content_type().unwrap().subtype(), Some("plain"));
    assert_eq!(message.body_text(0).unwrap().trim_end(), "hello");
}

#[test]
fn a_body_file_follows_the_body_lines_and_is_consumed() {
    let (_dir, spool) = spool();
    std::fs::create_dir(spool.in_dir().join("n.files")).unwrap();
    std::fs::write(spool.in_dir().join("n.files/cover.txt"), "from the file\n").unwrap();
    let path = drop_file(
        &spool,
        "n.job",
        b"to = a@x.org\nfrom = f@x.org\nbody = first\nbody-file = n.files/cover.txt\n",
    );
    let id = spool.ingest(&path, "", 1 << 20).unwrap();
    let mut raw = Vec::new();
    spool
        .open_message(&id)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let message = MessageParser::new().parse(&raw).unwrap();
    assert_eq!(
        message
            .body_text(0)
            .unwrap()
            .replace("\r\n", "\n")
            .trim_end(),
        "first\nfrom the file"
    );
    assert!(names(&spool.in_dir()).is_empty());
}
