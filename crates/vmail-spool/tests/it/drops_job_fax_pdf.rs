//! `.job` drops with `attach-as = pdf` (or `[VMAIL] fax-attach-as = pdf`):
//! each TIFF attachment is queued as one PDF, `name.tif` -> `name.pdf`,
//! and the job log's first line says so; a TIFF that cannot be converted
//! is queued as it came, with the reason in the job log and in the text.

use std::io::Read;
use std::path::{Path, PathBuf};

use mail_parser::{MessageParser, MimeHeaders};
use vmail_core::{AttachAs, JobId};
use vmail_message::LocalNames;
use vmail_spool::{DropRules, Spool};

use crate::{drop_file, spool};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vmail-fax/tests/data")
        .join(name);
    std::fs::read(path).unwrap()
}

fn ingest(spool: &Spool, path: PathBuf, fax_attach_as: AttachAs) -> JobId {
    let names = LocalNames::default();
    let rules = DropRules {
        default_from: "fax@example.com",
        names: &names,
        templates: None,
        fax_attach_as,
        limit: 1 << 22,
    };
    spool
        .ingest_many_with(&[path], &rules)
        .pop()
        .unwrap()
        .unwrap()
}

/// The queued message's text and its attachments' names, types and bytes.
fn parts(spool: &Spool, id: &JobId) -> (String, Vec<(String, String, Vec<u8>)>) {
    let mut raw = Vec::new();
    spool
        .open_message(id)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    let message = MessageParser::new().parse(&raw).unwrap();
    let text = message.body_text(0).unwrap().replace("\r\n", "\n");
    let attachments = message
        .attachments()
        .map(|a| {
            let ct = a.content_type().unwrap();
            (
                a.attachment_name().unwrap().to_string(),
                format!("{}/{}", ct.ctype(), ct.subtype().unwrap()),
                a.contents().to_vec(),
            )
        })
        .collect();
    (text, attachments)
}

fn fax_job(spool: &Spool, attach_as: &str, tiff: &[u8]) -> PathBuf {
    let files = spool.in_dir().join("rx.files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("fax000042.tif"), tiff).unwrap();
    std::fs::write(files.join("notes.txt"), "from the fax server\n").unwrap();
    let job = format!(
        "to = ann@example.org\nsubject = Fax from +1 555 0100\nbody = A fax for you.\n{attach_as}\
         attach = rx.files/fax000042.tif, rx.files/notes.txt\n"
    );
    drop_file(spool, "rx.job", job.as_bytes())
}

#[test]
fn attach_as_pdf_queues_each_tiff_as_one_pdf_with_every_page() {
    let (_dir, spool) = spool();
    let tiff = fixture("fax-2p-normal-g3.tif");
    let path = fax_job(&spool, "attach-as = pdf\n", &tiff);
    let id = ingest(&spool, path, AttachAs::Tiff);

    let (text, attachments) = parts(&spool, &id);
    assert_eq!(text.trim_end(), "A fax for you.");
    let names: Vec<(&str, &str)> = attachments
        .iter()
        .map(|(n, t, _)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("fax000042.pdf", "application/pdf"),
            ("notes.txt", "text/plain")
        ]
    );
    let pdf = &attachments[0].2;
    assert_eq!(pdf, &vmail_fax::tiff_to_pdf(&tiff).unwrap().pdf);
    let note = spool.load(&id).unwrap().note.unwrap();
    assert!(
        note.ends_with(
            "queued from in/rx.job; fax000042.tif attached as fax000042.pdf (2 page(s))"
        ),
        "{note}"
    );
}

#[test]
fn the_configured_default_applies_and_a_job_may_say_tiff() {
    let (_dir, spool) = spool();
    let tiff = fixture("fax-1p-normal-g4.tif");
    let id = ingest(&spool, fax_job(&spool, "", &tiff), AttachAs::Pdf);
    let (_, attachments) = parts(&spool, &id);
    assert_eq!(attachments[0].0, "fax000042.pdf");

    let (_dir, spool) = crate::spool();
    let id = ingest(
        &spool,
        fax_job(&spool, "Attach-As = TIFF\n", &tiff),
        AttachAs::Pdf,
    );
    let (_, attachments) = parts(&spool, &id);
    assert_eq!(attachments[0].0, "fax000042.tif");
    assert_eq!(attachments[0].1, "image/tiff");
    assert_eq!(attachments[0].2, tiff);
}

#[test]
fn a_damaged_tiff_is_queued_as_it_came_with_the_reason_in_the_log_and_the_text() {
    let (_dir, spool) = spool();
    let mut tiff = fixture("fax-1p-normal-g4.tif");
    // Page 1's Group 4 data starts at offset 8: zeros are no valid code.
    tiff[100..160].fill(0);
    let id = ingest(
        &spool,
        fax_job(&spool, "attach-as = pdf\n", &tiff),
        AttachAs::Tiff,
    );

    let (text, attachments) = parts(&spool, &id);
    assert_eq!(attachments[0].0, "fax000042.tif");
    assert_eq!(attachments[0].1, "image/tiff");
    assert_eq!(attachments[0].2, tiff, "the TIFF is sent byte for byte");
    let why = "page 1: damaged Group 4 data: ";
    assert!(
        text.starts_with(&format!(
            "A fax for you.\n\nfax000042.tif is attached as it was received (TIFF): \
             it could not be converted to PDF: {why}"
        )),
        "{text}"
    );
    let note = spool.load(&id).unwrap().note.unwrap();
    assert!(
        note.contains(&format!(
            "queued from in/rx.job; fax000042.tif attached as TIFF: it could not be converted to PDF: {why}"
        )),
        "{note}"
    );
}

#[test]
fn a_bad_attach_as_value_quarantines_the_job_with_the_line() {
    let (_dir, spool) = spool();
    let path = fax_job(&spool, "attach-as = png\n", b"II*\0");
    let names = LocalNames::default();
    let rules = DropRules {
        default_from: "fax@example.com",
        names: &names,
        templates: None,
        fax_attach_as: AttachAs::Tiff,
        limit: 1 << 20,
    };
    let err = spool
        .ingest_many_with(&[path], &rules)
        .pop()
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("line 4: `attach-as`: \"png\" is not a way to attach a fax (pdf, tiff)"),
        "{err}"
    );
}
