//! What a first user of `vfx` meets: the cover page counts attachments in
//! words (not "Pages"), `{to}` is filled, an unknown `{field}` is warned
//! about, and a text file without a known suffix is attached as text.
use crate::common;

use common::*;

#[test]
fn the_classic_cover_says_attachments_not_pages() {
    let env = Env::new();
    let scan = env.file("scan.pdf", b"%PDF-1.4\n");
    let run = env.run(
        "vfx",
        &[
            "-n",
            "ann@example.test",
            "-C",
            "classic",
            scan.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    let (_, message) = env.only_job();
    let text = String::from_utf8_lossy(&message);
    assert!(text.contains("\r\nAttachments: 1 file\r\n"), "{text}");
    assert!(!text.contains("Pages:"), "{text}");
}

#[test]
fn an_unknown_field_is_warned_about_and_to_is_filled() {
    let env = Env::new();
    let template = env.file("my-cover.txt", b"For: {to}\nFrom: {from}\nPages: {pages}\n");
    let run = env.run(
        "vfx",
        &[
            "-n",
            "ann@example.test",
            "-O",
            "-C",
            template.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "vfx: warning: the cover page {} uses {{pages}}, which is not a field: it stays as written \
             (fields: {{date}}, {{sender}}, {{recipients}}, {{subject}}, {{attachments}}, {{file_count}}, {{files}}, {{note}})\n",
            template.display()
        )
    );
    let (_, message) = env.only_job();
    let text = String::from_utf8_lossy(&message);
    assert!(
        text.contains("For: ann@example.test\r\nFrom: fax@example.test\r\nPages: {pages}\r\n"),
        "{text}"
    );
}

#[test]
fn the_help_lists_the_cover_fields() {
    let run = run_in(std::path::Path::new("."), "vfx", &["--help"], b"", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("\n  {recipients}   the recipients, comma-separated (also {to})\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Usage: vfx [OPTIONS] --to <ADDRESS> [FILE]...\n")
    );
}

#[test]
fn a_text_file_without_a_known_suffix_is_attached_as_text() {
    let env = Env::new();
    let log = env.file("backup-report", b"all 12 volumes copied\n");
    let run = env.run(
        "vfx",
        &["-n", "ann@example.test", log.to_str().unwrap()],
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (_, message) = env.only_job();
    let text = String::from_utf8_lossy(&message);
    assert!(
        text.contains("filename=\"backup-report\"\r\nContent-Type: text/plain; charset=utf-8\r\n"),
        "{text}"
    );
}
