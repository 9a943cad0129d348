//! The bodies of vmail's fuzz targets, shared by the libFuzzer binaries in
//! `fuzz/fuzz_targets/` (coverage-guided, `cargo fuzz run`) and by the
//! bounded, seeded run on stable Rust in `tests/bounded.rs` ([`stable`]).
//!
//! Each target feeds arbitrary bytes to a reader of untrusted input and
//! checks more than "no panic": the promises the reader makes (an error
//! list is never empty, the editor keeps every byte, Bcc never reaches a
//! queued header, ...). A broken promise is a panic, which both fuzzers
//! report with the input. Each returns whether the input was accepted, which
//! the stable fuzzer uses to grow its pool of inputs.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod stable;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use vmail_config::IniDocument;

/// The path the ini text pretends to come from. Its folder does not exist,
/// so a sealed `enc:` value finds no key file and nothing is read.
const INI_PATH: &str = "/nonexistent/vmail-fuzz/vsisrv.ini";

/// `vsisrv.ini`: the loader ([`vmail_config::load_str`]) and the
/// comment-preserving editor ([`IniDocument`]) on the same text.
///
/// Checks: no panic; a rejected file has at least one error, and every error
/// and warning names the file and a line that exists; the editor gives back
/// the text it read byte for byte; a key it sets reads back, from the
/// written text, as set.
pub fn ini_reader(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let path = Path::new(INI_PATH);
    let line_count = text.split('\n').count();
    let accepted = match vmail_config::load_str(path, &text) {
        Ok(loaded) => {
            check_diagnostics(&loaded.warnings, path, line_count);
            true
        }
        Err(problems) => {
            assert!(
                !problems.errors.is_empty(),
                "load_str rejected the file without saying why"
            );
            check_diagnostics(&problems.errors, path, line_count);
            check_diagnostics(&problems.warnings, path, line_count);
            let _ = problems.to_string();
            false
        }
    };
    check_editor(path, &text);
    accepted
}

fn check_diagnostics(list: &[vmail_config::Diagnostic], path: &Path, line_count: usize) {
    for diagnostic in list {
        let shown = diagnostic.to_string();
        if diagnostic.path == path
            && let Some(line) = diagnostic.line
        {
            assert!(
                (1..=line_count).contains(&line),
                "a diagnostic names line {line} of a {line_count}-line file: {shown}"
            );
        }
        assert!(
            shown.starts_with(&diagnostic.path.display().to_string()),
            "a diagnostic does not start with its file: {shown}"
        );
    }
}

fn check_editor(path: &Path, text: &str) {
    let mut doc = IniDocument::parse(path, text);
    assert_eq!(
        doc.to_text(),
        text,
        "the editor changed a file it only read"
    );
    let value = "fuzz.example.org";
    if doc.set("VMAIL", "helo-name", value).is_err() {
        panic!("the editor refused a plain value");
    }
    let written = doc.to_text();
    let again = IniDocument::parse(path, &written);
    assert_eq!(
        again.get("VMAIL", "helo-name"),
        Some(value),
        "a key set by the editor does not read back from the written text:\n{written:?}"
    );
    let _ = vmail_config::load_str(path, &written);
}

/// A `.job` drop: parsed and packed into the message pickup would queue,
/// with and without a configured sender (`[VMAIL] from`). The files it may
/// name (`a.pdf`, `notes.txt`, `body.txt`, `sub/c.png`) exist in a fixture
/// folder, so attachments and body files are packed too.
///
/// Checks: no panic; an accepted job has recipients, takes the configured
/// sender when there is one, carries no Bcc field, and is itself an `.eml`
/// drop that pickup accepts, whose recipients are among the job's.
pub fn job_file(data: &[u8]) -> bool {
    job_file_in(data, fixtures())
}

/// [`job_file`] with the fixture folder given (see [`make_fixtures`]).
pub fn job_file_in(data: &[u8], folder: &Path) -> bool {
    let mut accepted = false;
    for default_from in ["", "fax@example.org"] {
        let Ok((envelope, message)) = vmail_spool::fuzz::job_file(data, folder, default_from)
        else {
            continue;
        };
        accepted = true;
        assert!(
            !envelope.recipients.is_empty(),
            "a job without recipients was accepted"
        );
        if !default_from.is_empty() {
            assert_eq!(
                envelope.from, default_from,
                "the configured sender was not used"
            );
        }
        let header = header_section(&message);
        assert_no_bcc(header, "a packed job");
        match vmail_spool::fuzz::eml_header(&message, default_from) {
            // mail-parser decodes an RFC 2047 encoded-word even inside an
            // address (`<=?utf-8?b?Y2Fmw6k=?=ann@x>` reads as `ann@x`),
            // where RFC 2047 section 5 says it is plain text; lettre writes
            // such an address as it is. Known, reported; not checked here.
            Ok(_) if envelope.recipients.iter().any(|r| r.contains("=?")) => {}
            Ok((again, _)) => {
                for recipient in &again.recipients {
                    assert!(
                        envelope
                            .recipients
                            .iter()
                            .any(|r| r.eq_ignore_ascii_case(recipient)),
                        "the packed message names {recipient:?}, not a recipient of the job {:?}",
                        envelope.recipients
                    );
                }
            }
            // Bcc-only jobs have no To or Cc: their message names no one.
            Err(why) if why.has_no_recipients() => {}
            Err(why) => panic!(
                "the message packed from a job is not an .eml pickup accepts: {why}\n{}",
                String::from_utf8_lossy(header)
            ),
        }
    }
    accepted
}

/// The header of an `.eml` drop: read, parsed, its envelope derived, the
/// missing fields added and Bcc removed, with and without a configured
/// sender.
///
/// Checks: no panic; an accepted message has recipients, each once (in any
/// case), and the configured sender when there is one; the queued header
/// has no Bcc field and ends where a header ends.
pub fn eml_header(data: &[u8]) -> bool {
    let mut accepted = false;
    for default_from in ["", "relay@example.org"] {
        let Ok((envelope, header)) = vmail_spool::fuzz::eml_header(data, default_from) else {
            continue;
        };
        accepted = true;
        assert!(
            !envelope.recipients.is_empty(),
            "a message without recipients was accepted"
        );
        for (i, a) in envelope.recipients.iter().enumerate() {
            assert!(
                !envelope.recipients[..i]
                    .iter()
                    .any(|b| b.eq_ignore_ascii_case(a)),
                "recipient {a:?} is in the envelope twice"
            );
        }
        if !default_from.is_empty() {
            assert_eq!(
                envelope.from, default_from,
                "the configured sender was not used"
            );
        }
        assert_no_bcc(&header, "a queued .eml header");
    }
    accepted
}

/// What an SMTP server sends: its bytes through the reply parser, read
/// three ways (all at once, a byte per read, and in reads whose sizes the
/// input's first byte picks), and every 250 reply through the EHLO reader,
/// as the session reads the answer to EHLO.
///
/// Checks: no panic; how the bytes are split into reads changes nothing
/// (the same replies, the same raw bytes, an error at the same place); the
/// replies' raw bytes are exactly the input, in order, up to what is left;
/// every raw line starts with its reply's code, which is 1xx to 5xx; a
/// reply's text has no control character but `\n` between its lines and
/// tabs; the EHLO
/// reader names each AUTH mechanism once and `offers` agrees with the list.
pub fn smtp_reply(data: &[u8]) -> bool {
    let whole = vmail_smtp::fuzz::replies(data, &[]);
    let bytewise = vmail_smtp::fuzz::replies(data, &vec![1; data.len()]);
    let step = usize::from(data.first().copied().unwrap_or(0) % 13) + 1;
    let stepped = vmail_smtp::fuzz::replies(data, &vec![step; data.len() / step + 1]);
    assert_eq!(
        whole.replies, bytewise.replies,
        "a byte per read gives other replies"
    );
    assert_eq!(
        whole.replies, stepped.replies,
        "reads of {step} bytes give other replies"
    );
    assert_eq!(
        whole.error.is_some(),
        bytewise.error.is_some(),
        "an error depends on how the bytes were read: {:?} / {:?}",
        whole.error,
        bytewise.error
    );
    let mut consumed = 0;
    for (reply, raw) in &whole.replies {
        assert_eq!(
            &data[consumed..consumed + raw.len()],
            raw.as_slice(),
            "a reply's raw bytes are not the input"
        );
        consumed += raw.len();
        check_reply(reply, raw);
    }
    if whole.error.is_none() {
        assert_eq!(
            consumed + whole.left,
            data.len(),
            "bytes went missing between replies"
        );
    }
    !whole.replies.is_empty()
}

fn check_reply(reply: &vmail_core::Reply, raw: &[u8]) {
    assert!(
        (100..600).contains(&reply.code),
        "reply code {} is not 1xx to 5xx",
        reply.code
    );
    assert!(
        !reply
            .text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "a reply's text keeps a control character: {:?}",
        reply.text
    );
    let code = reply.code.to_string();
    for line in raw.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with(code.as_bytes()),
            "a line of reply {code} starts otherwise: {:?}",
            String::from_utf8_lossy(line)
        );
    }
    let _ = reply.to_string();
    if reply.code != 250 {
        return;
    }
    if let Ok(ext) = vmail_smtp::fuzz::ehlo(raw) {
        for (i, mechanism) in ext.auth.iter().enumerate() {
            assert!(ext.offers(mechanism), "offers({mechanism}) is false");
            assert!(
                !ext.auth[..i].contains(mechanism),
                "AUTH {mechanism} listed twice"
            );
        }
        assert!(ext.auth.is_empty() || ext.offers_auth());
        if let Some(limit) = ext.size_limit() {
            assert!(limit > 0);
        }
    }
}

/// The header section of a message: up to its first empty line.
fn header_section(message: &[u8]) -> &[u8] {
    let mut start = 0;
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            break;
        }
        start += line.len();
    }
    &message[..start]
}

/// No field of `header` is named Bcc (continuation lines are part of the
/// field before them).
fn assert_no_bcc(header: &[u8], what: &str) {
    for line in header.split(|&b| b == b'\n') {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            assert!(
                !line[..colon].trim_ascii().eq_ignore_ascii_case(b"bcc"),
                "{what} has a Bcc field:\n{}",
                String::from_utf8_lossy(header)
            );
        }
    }
}

/// The files job-file inputs may name, written into `dir`.
pub fn make_fixtures(dir: &Path) -> std::io::Result<()> {
    let files: [(&str, &[u8]); 4] = [
        ("a.pdf", b"%PDF-1.4\n%fuzz\n"),
        ("notes.txt", b"some notes\n"),
        ("body.txt", b"the body, from a file\n"),
        ("sub/c.png", b"\x89PNG\r\n\x1a\n"),
    ];
    std::fs::create_dir_all(dir.join("sub"))?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

/// The fixture folder of a libFuzzer run: made once per process, in a new
/// folder of the system's temporary folder (left there: a few bytes).
fn fixtures() -> &'static Path {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vmail-fuzz-in-{}", std::process::id()));
        // create_dir, not create_dir_all: a folder someone made beforehand is not used.
        if std::fs::create_dir(&dir).is_ok() {
            let _ = make_fixtures(&dir);
        }
        dir
    })
}

/// A fax TIFF converted to PDF ([`vmail_fax::tiff_to_pdf`]), as pickup
/// does for a `.job` with `attach-as = pdf`.
///
/// Checks: no panic; an accepted TIFF gives a PDF (`%PDF-` ... `%%EOF`)
/// with one page object per page, at least one page, and no more pages
/// re-encoded than there are; a refused one says why.
pub fn fax_tiff(data: &[u8]) -> bool {
    match vmail_fax::tiff_to_pdf(data) {
        Ok(converted) => {
            assert!(converted.pages >= 1, "a PDF without pages");
            assert!(converted.reencoded <= converted.pages);
            let pdf = &converted.pdf;
            assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
            assert!(
                pdf.windows(5).any(|w| w == b"%%EOF"),
                "a PDF without its end"
            );
            let pages = pdf
                .windows(12)
                .filter(|w| w.starts_with(b"/Type /Page") && w[11] != b's')
                .count();
            assert_eq!(pages, converted.pages, "page objects in the PDF");
            true
        }
        Err(err) => {
            assert!(!err.to_string().is_empty(), "a refusal without a reason");
            false
        }
    }
}
