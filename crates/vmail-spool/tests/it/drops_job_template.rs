//! `.job` drops that name a `template`: rendered at pickup with their
//! `[fields]`, so the queued message is the finished one; a template that
//! cannot be rendered sends the job to quarantine/ with a reason that
//! names the template, the line and the field.

use std::io::Read;
use std::path::Path;

use mail_parser::MessageParser;
use vmail_core::JobId;
use vmail_message::{LocalNames, Templates};
use vmail_spool::{DropRules, IngestError, Spool};

use crate::{drop_file, names, spool};

/// The templates shipped in config/templates.
fn shipped() -> Templates {
    Templates::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/templates"))
}

fn ingest(spool: &Spool, path: &Path, templates: &Templates) -> Result<JobId, IngestError> {
    let names = LocalNames::default();
    let rules = DropRules {
        default_from: "fax@example.com",
        names: &names,
        templates: Some(templates),
        fax_attach_as: vmail_core::AttachAs::Tiff,
        limit: 1 << 20,
    };
    spool
        .ingest_many_with(&[path.to_path_buf()], &rules)
        .pop()
        .unwrap()
}

fn message(spool: &Spool, id: &JobId) -> Vec<u8> {
    let mut raw = Vec::new();
    spool
        .open_message(id)
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    raw
}

/// Ingests `path`, expects it quarantined; returns the reason written
/// beside it.
fn quarantined(spool: &Spool, path: &Path, templates: &Templates) -> String {
    let err = ingest(spool, path, templates).unwrap_err();
    let IngestError::Quarantined(corrupt) = &err else {
        panic!("expected a quarantine, got {err}")
    };
    let dest = corrupt.quarantined.clone().unwrap();
    let name = dest.file_name().unwrap().to_string_lossy().into_owned();
    assert!(spool.ids().unwrap().is_empty());
    std::fs::read_to_string(spool.quarantine_dir().join(format!("{name}.reason"))).unwrap()
}

#[test]
fn a_fax_received_job_is_queued_as_the_rendered_message_with_its_fax() {
    let (_dir, spool) = spool();
    let files = spool.in_dir().join("fax1.files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("fax000001.tif"), b"II*\x00tiff").unwrap();
    let job = "[job]\nto = ann@example.org\ntemplate = fax-received\n\
               attach = fax1.files/fax000001.tif\n\
               [fields]\npages = 1\nremote-id = +1 555 0100\nDuration = 0:42\n";
    let path = drop_file(&spool, "fax1.job", job.as_bytes());

    let id = ingest(&spool, &path, &shipped()).unwrap();
    let raw = message(&spool, &id);
    let parsed = MessageParser::new().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("Fax from +1 555 0100, 1 page"));
    let body = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(
        body,
        "A fax came in from +1 555 0100: 1 page.\n\nDuration:   0:42\n\nThe fax is attached.\n"
    );
    assert_eq!(parsed.attachment_count(), 1);
    // The job and its fax are consumed; nothing is in quarantine.
    assert!(names(&spool.in_dir()).is_empty());
    assert!(names(&spool.quarantine_dir()).is_empty());
}

#[test]
fn a_missing_field_quarantines_the_job_naming_template_line_and_field() {
    let (_dir, spool) = spool();
    let job = "to = ann@example.org\ntemplate = fax-received\n[fields]\npages = 2\n";
    let path = drop_file(&spool, "fax2.job", job.as_bytes());
    let reason = quarantined(&spool, &path, &shipped());
    let file = shipped().path_of("fax-received").unwrap();
    assert_eq!(
        reason,
        format!(
            "{}: template `fax-received` ({}) line 14: field `remote_id` is missing (the job gives pages)\n",
            path.display(),
            file.display()
        )
    );
}

#[test]
fn a_template_with_a_syntax_error_quarantines_the_job() {
    let (dir, spool) = spool();
    let templates = Templates::new(dir.path().join("templates"));
    std::fs::create_dir(templates.dir()).unwrap();
    std::fs::write(
        templates.dir().join("broken.j2"),
        "Subject: Fax\n\n{% if pages %}\n{{ pages }\n",
    )
    .unwrap();
    let job = "to = ann@example.org\ntemplate = broken\n[fields]\npages = 2\n";
    let path = drop_file(&spool, "fax3.job", job.as_bytes());
    let reason = quarantined(&spool, &path, &templates);
    assert!(
        reason.contains(&format!(
            "template `broken` ({}) line 4: syntax error: ",
            templates.dir().join("broken.j2").display()
        )),
        "{reason}"
    );
}

#[test]
fn a_template_name_cannot_leave_the_templates_folder() {
    let (dir, spool) = spool();
    let templates = Templates::new(dir.path().join("templates"));
    std::fs::create_dir(templates.dir()).unwrap();
    // A file the name would reach if it were taken as a path.
    std::fs::write(dir.path().join("x.j2"), "Subject: escaped\n\nbody\n").unwrap();
    for name in ["../x", "/etc/passwd", "sub/x"] {
        let job = format!("to = ann@example.org\ntemplate = {name}\n");
        let path = drop_file(&spool, "esc.job", job.as_bytes());
        let reason = quarantined(&spool, &path, &templates);
        assert!(
            reason.contains(&format!("template name `{name}` is not a plain name")),
            "{reason}"
        );
        std::fs::remove_file(spool.quarantine_dir().join("esc.job")).unwrap();
        std::fs::remove_file(spool.quarantine_dir().join("esc.job.reason")).unwrap();
    }
}

#[test]
fn what_is_wrong_with_a_templated_job_is_said_in_its_reason() {
    let (_dir, spool) = spool();
    let cases = [
        (
            "to = a@example.org\ntemplate = fax-sent\nsubject = mine\n",
            "names template `fax-sent` and sets `subject` too: the template gives the subject and the body",
        ),
        (
            "to = a@example.org\n[fields]\npages = 1\n",
            "has a [fields] section but no `template` to fill in",
        ),
        (
            "to = a@example.org\ntemplate = fax-sent\n[fields]\npages = 1\nPAGES = 2\n",
            "line 5: field `pages` is given twice",
        ),
        (
            "to = a@example.org\ntemplate = fax-sent\n[fields]\n1st = x\n",
            "line 4: field `1st` is not a name",
        ),
        (
            "to = a@example.org\n[extra]\nx = 1\n",
            "line 2: unknown section `[extra]` (known: [job], [fields])",
        ),
        (
            "to = a@example.org\ntemplate = nosuch\n",
            "template `nosuch`: there is no ",
        ),
    ];
    for (job, expected) in cases {
        let path = drop_file(&spool, "t.job", job.as_bytes());
        let reason = quarantined(&spool, &path, &shipped());
        assert!(reason.contains(expected), "{job:?}: {reason}");
        std::fs::remove_file(spool.quarantine_dir().join("t.job")).unwrap();
        std::fs::remove_file(spool.quarantine_dir().join("t.job.reason")).unwrap();
    }
}

#[test]
fn without_a_templates_folder_a_templated_job_is_quarantined_not_lost() {
    let (_dir, spool) = spool();
    let path = drop_file(
        &spool,
        "t.job",
        b"to = a@example.org\ntemplate = fax-sent\n[fields]\npages = 1\n",
    );
    let err = spool.ingest(&path, "fax@example.com", 1 << 20).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("names template `fax-sent`, but this pickup has no templates folder"),
        "{err}"
    );
    assert_eq!(
        names(&spool.quarantine_dir()),
        vec!["t.job", "t.job.reason"]
    );
}
