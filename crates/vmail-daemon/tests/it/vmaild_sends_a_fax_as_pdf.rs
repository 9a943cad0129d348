//! `[VMAIL] fax-attach-as = pdf` end to end through the real vmaild in
//! capture mode: a `.job`'s fax TIFF arrives as one PDF with every page,
//! the PDF vmail-fax makes (which poppler shows pixel for pixel, see
//! vmail-fax's tests); a damaged TIFF arrives as the TIFF it was, with the
//! reason in the job log and in the text, and the job is sent, not lost.
use crate::common::daemon;
use crate::common::real;

use daemon::*;
use mail_parser::{MessageParser, MimeHeaders};
use std::path::Path;

/// A two-page Group 3 2-D fax at 204 × 98 dpi (vmail-fax's test data).
const FAX: &[u8] = include_bytes!("../../../vmail-fax/tests/data/fax-2p-normal-g3.tif");

/// `FAX` with its first page's data overwritten: no valid Group 3 code.
fn damaged() -> Vec<u8> {
    let mut tiff = FAX.to_vec();
    tiff[200..300].fill(0);
    tiff
}

/// Drops `NAME.job` attaching `NAME.files/fax000042.tif`.
fn drop_fax_job(spool: &Path, name: &str, tiff: &[u8], subject: &str) {
    stage_files(spool, name, &[("fax000042.tif", tiff)]);
    drop_eml(
        spool,
        &format!("{name}.job"),
        &format!(
            "to = ann@example.test\nsubject = {subject}\nbody = A fax came in.\n\
             attach = {name}.files/fax000042.tif\n"
        ),
    );
}

#[test]
fn a_fax_arrives_as_pdf_and_a_damaged_one_as_tiff_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "fax-attach-as = pdf");
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(spool.join("in")).unwrap();
    drop_fax_job(&spool, "good", FAX, "good fax");
    drop_fax_job(&spool, "bad", &damaged(), "damaged fax");
    let vmaild = Daemon::start(dir.path());
    wait_for(
        "both faxes in sent/",
        || real::jobs_in(&spool, "sent").len() == 2 && captures(dir.path()).len() == 2,
        || vmaild.log(),
    );

    let mut by_subject = std::collections::HashMap::new();
    for name in captures(dir.path()) {
        let raw = std::fs::read(dir.path().join("capture").join(name)).unwrap();
        let message = MessageParser::new().parse(&raw).unwrap();
        let subject = message.subject().unwrap().to_string();
        let text = message.body_text(0).unwrap().replace("\r\n", "\n");
        let parts: Vec<(String, String, Vec<u8>)> = message
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
        by_subject.insert(subject, (text, parts));
    }

    let (text, parts) = &by_subject["good fax"];
    assert_eq!(text.trim_end(), "A fax came in.");
    assert_eq!(parts.len(), 1);
    assert_eq!(
        (parts[0].0.as_str(), parts[0].1.as_str()),
        ("fax000042.pdf", "application/pdf")
    );
    let converted = vmail_fax::tiff_to_pdf(FAX).unwrap();
    assert_eq!(converted.pages, 2);
    assert_eq!(parts[0].2, converted.pdf);

    let why = "page 1: damaged Group 3 2-D data: ";
    let (text, parts) = &by_subject["damaged fax"];
    assert_eq!(
        (parts[0].0.as_str(), parts[0].1.as_str()),
        ("fax000042.tif", "image/tiff")
    );
    assert_eq!(parts[0].2, damaged(), "the TIFF byte for byte");
    assert!(
        text.starts_with(&format!(
            "A fax came in.\n\nfax000042.tif is attached as it was received (TIFF): \
             it could not be converted to PDF: {why}"
        )),
        "{text}"
    );

    let logs: Vec<String> = real::jobs_in(&spool, "sent")
        .iter()
        .map(|id| real::job_log(&spool, id))
        .collect();
    let good = logs
        .iter()
        .find(|l| l.contains("queued from in/good.job"))
        .unwrap();
    assert!(
        good.lines().next().unwrap().ends_with(
            "queued from in/good.job; fax000042.tif attached as fax000042.pdf (2 page(s))"
        ),
        "{good}"
    );
    let bad = logs
        .iter()
        .find(|l| l.contains("queued from in/bad.job"))
        .unwrap();
    assert!(
        bad.lines().next().unwrap().contains(&format!(
            "queued from in/bad.job; fax000042.tif attached as TIFF: it could not be converted to PDF: {why}"
        )),
        "{bad}"
    );
    assert!(vmaild.stop().success());
}
