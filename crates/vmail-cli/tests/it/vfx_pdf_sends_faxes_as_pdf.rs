//! `vfx --pdf`: each TIFF file is queued as one PDF (`name.tif` ->
//! `name.pdf`), other files as they are; a TIFF that cannot be converted
//! is queued as it is, with a warning and the reason in the text and in
//! the job's note.
use crate::common;

use common::*;
use mail_parser::{MessageParser, MimeHeaders};

fn fixture(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vmail-fax/tests/data");
    std::fs::read(dir.join(name)).unwrap()
}

/// The one queued job's note (`N` line) and its attachments' names and bytes.
fn queued(env: &Env) -> (String, String, Vec<(String, Vec<u8>)>) {
    let ids = env.queued();
    assert_eq!(ids.len(), 1);
    let bytes = std::fs::read(env.spool().join("queue").join(&ids[0])).unwrap();
    let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let note = head
        .lines()
        .find_map(|l| l.strip_prefix('N'))
        .unwrap_or_default()
        .to_string();
    let message = MessageParser::new().parse(&bytes[split + 2..]).unwrap();
    let text = message.body_text(0).unwrap().replace("\r\n", "\n");
    let attachments = message
        .attachments()
        .map(|a| {
            (
                a.attachment_name().unwrap().to_string(),
                a.contents().to_vec(),
            )
        })
        .collect();
    (note, text, attachments)
}

#[test]
fn pdf_sends_each_tiff_as_one_pdf() {
    let env = Env::new();
    let tiff = fixture("fax-2p-normal-g3.tif");
    let fax = env.file("fax000042.tif", &tiff);
    let other = env.file("cover.pdf", b"%PDF-1.4\n");
    let run = env.run(
        "vfx",
        &[
            "-n",
            "ann@example.test",
            "--pdf",
            fax.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    let (note, _, attachments) = queued(&env);
    assert_eq!(attachments[0].0, "fax000042.pdf");
    assert_eq!(attachments[0].1, vmail_fax::tiff_to_pdf(&tiff).unwrap().pdf);
    assert_eq!(
        attachments[1],
        ("cover.pdf".to_string(), b"%PDF-1.4\n".to_vec())
    );
    assert!(
        note.ends_with("; fax000042.tif attached as fax000042.pdf (2 page(s))"),
        "{note}"
    );
}

#[test]
fn a_damaged_tiff_is_sent_as_it_is_with_a_warning_and_the_reason() {
    let env = Env::new();
    let fax = env.file("fax.tif", b"II*\0\x08\0\0\0\0\0");
    let run = env.run(
        "vfx",
        &[
            "-n",
            "ann@example.test",
            "-m",
            "Hello",
            "--pdf",
            fax.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let why = "not a readable TIFF file: the file ends inside a directory";
    assert_eq!(
        run.stderr,
        format!(
            "vfx: warning: fax.tif attached as TIFF: it could not be converted to PDF: {why}\n"
        )
    );
    let (note, text, attachments) = queued(&env);
    assert_eq!(
        attachments,
        [("fax.tif".to_string(), b"II*\0\x08\0\0\0\0\0".to_vec())]
    );
    assert_eq!(
        text.trim_end(),
        format!(
            "Hello\n\nfax.tif is attached as it was received (TIFF): it could not be converted to PDF: {why}"
        )
    );
    assert!(note.contains(why), "{note}");
}

#[test]
fn fax_attach_as_pdf_in_the_file_makes_pdf_the_default() {
    let env = Env::with_vmail("fax-attach-as = pdf");
    let tiff = fixture("fax-1p-normal-g4.tif");
    let fax = env.file("fax.tif", &tiff);
    let run = env.run(
        "vfx",
        &["-n", "ann@example.test", fax.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (_, _, attachments) = queued(&env);
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].0, "fax.pdf");
    assert_eq!(attachments[0].1, vmail_fax::tiff_to_pdf(&tiff).unwrap().pdf);
}

#[test]
fn without_pdf_a_tiff_is_sent_as_it_is() {
    let env = Env::new();
    let tiff = fixture("fax-1p-normal-g4.tif");
    let fax = env.file("fax.tif", &tiff);
    let run = env.run(
        "vfx",
        &["-n", "ann@example.test", fax.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (_, _, attachments) = queued(&env);
    assert_eq!(attachments, [("fax.tif".to_string(), tiff)]);
}
