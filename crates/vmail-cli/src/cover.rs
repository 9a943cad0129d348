//! Cover pages: plain-text templates with `{name}` fields, shipped inside
//! the binary (`templates/*.txt`), or read from a file when `-C` names a path.
//!
//! Fields: see [`FIELDS`] (also in `vfx --help` and
//! `docs/cover-pages.md`). A `{name}` that is not a field stays as written,
//! and `vfx` warns about it ([`unknown_fields`]) before queueing.

use std::path::Path;

/// The templates built into vfx: name and text.
pub const BUILT_IN: &[(&str, &str)] = &[("classic", include_str!("../templates/classic.txt"))];

/// The fields a template may use, with what each becomes; `vfx --help`
/// and the warning about an unknown field list them from here.
pub const FIELDS: &[(&str, &str)] = &[
    ("date", "when the job was queued"),
    ("sender", "the sender (also {from})"),
    ("recipients", "the recipients, comma-separated (also {to})"),
    ("subject", "the subject"),
    ("attachments", "how many files: `1 file`, `2 files`, `none`"),
    ("file_count", "the number of files"),
    ("files", "one line per file with its size"),
    ("note", "the text of -m"),
];

/// Other names accepted for a field: what a user coming from a fax cover
/// page reaches for first.
const ALIASES: &[(&str, &str)] = &[("to", "recipients"), ("from", "sender")];

/// The `{name}`s of `template` that are not fields (each once, in order),
/// which would stay literal in the page. Only `{` + lower-case letters,
/// digits and `_` + `}` counts as a placeholder: other braces are text.
pub fn unknown_fields(template: &str) -> Vec<String> {
    let mut unknown: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let known =
            FIELDS.iter().any(|(f, _)| *f == name) || ALIASES.iter().any(|(a, _)| *a == name);
        if is_name && !known && !unknown.iter().any(|u| u == name) {
            unknown.push(name.to_string());
        }
    }
    unknown
}

/// The fields as `vfx --help` lists them.
pub fn fields_help() -> String {
    FIELDS
        .iter()
        .map(|(name, what)| format!("  {:<15}{what}", format!("{{{name}}}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a cover page shows.
#[derive(Debug, Clone, Default)]
pub struct CoverFields {
    pub date: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// File name and size in bytes.
    pub files: Vec<(String, u64)>,
    pub note: String,
}

/// Why a cover page template cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum CoverError {
    /// The I/O error is in the text and deliberately not a `source`, so
    /// that `vfx`'s `{:#}` does not print it twice.
    #[error("cannot read the cover page template {name}: {io}")]
    Unreadable { name: String, io: std::io::Error },
    #[error("no cover page `{name}` (built in: {known}; or give a path to a template file)")]
    Unknown { name: String, known: String },
}

/// The template called `name`: a built-in one, or a file when `name`
/// contains a `/`. The error names it and lists the built-in ones.
pub fn template(name: &str) -> Result<String, CoverError> {
    if name.contains('/') {
        return std::fs::read_to_string(Path::new(name)).map_err(|io| CoverError::Unreadable {
            name: name.to_string(),
            io,
        });
    }
    BUILT_IN
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, text)| (*text).to_string())
        .ok_or_else(|| {
            let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            CoverError::Unknown {
                name: name.to_string(),
                known: known.join(", "),
            }
        })
}

/// Fills the `{name}` fields of `template` (and the aliases `{to}`,
/// `{from}`). Unknown fields stay as written.
pub fn render(template: &str, fields: &CoverFields) -> String {
    let files = if fields.files.is_empty() {
        "  (none: this cover page is the whole message)".to_string()
    } else {
        fields
            .files
            .iter()
            .map(|(name, size)| format!("  {name} ({})", human_size(*size)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let note = if fields.note.is_empty() {
        "(no note)"
    } else {
        fields.note.as_str()
    };
    let attachments = match fields.files.len() {
        0 => "none".to_string(),
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    };
    template
        .replace("{date}", &fields.date)
        .replace("{sender}", &fields.sender)
        .replace("{from}", &fields.sender)
        .replace("{recipients}", &fields.recipients.join(", "))
        .replace("{to}", &fields.recipients.join(", "))
        .replace("{attachments}", &attachments)
        .replace("{subject}", &fields.subject)
        .replace("{file_count}", &fields.files.len().to_string())
        .replace("{files}", &files)
        .replace("{note}", note)
}

/// `1234 bytes`, `12.1 KiB`, `3.4 MiB`.
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_shows_every_field() {
        let fields = CoverFields {
            date: "Mon 23 Nov 2026 20:00 +00:00".into(),
            sender: "fax@example.test".into(),
            recipients: vec!["a@x.test".into(), "b@x.test".into()],
            subject: "Invoice".into(),
            files: vec![("a.pdf".into(), 2048), ("b.txt".into(), 10)],
            note: "Please sign.".into(),
        };
        let page = render(&template("classic").unwrap(), &fields);
        for part in [
            "Mon 23 Nov 2026",
            "fax@example.test",
            "a@x.test, b@x.test",
            "Invoice",
            "a.pdf (2.0 KiB)",
            "b.txt (10 bytes)",
            "Please sign.",
        ] {
            assert!(page.contains(part), "{part} missing in\n{page}");
        }
        assert!(!page.contains('{'), "{page}");
    }

    #[test]
    fn attachments_are_counted_in_words_not_pages() {
        let mut fields = CoverFields {
            files: vec![("a.pdf".into(), 2048)],
            ..CoverFields::default()
        };
        let classic = template("classic").unwrap();
        assert!(render(&classic, &fields).contains("\nAttachments: 1 file\n"));
        assert!(!render(&classic, &fields).contains("Pages"));
        fields.files.push(("b.pdf".into(), 1));
        assert!(render(&classic, &fields).contains("\nAttachments: 2 files\n"));
        fields.files.clear();
        assert!(render(&classic, &fields).contains("\nAttachments: none\n"));
    }

    #[test]
    fn unknown_fields_are_found_and_aliases_are_filled() {
        assert_eq!(
            unknown_fields("To: {to} {pages} {x} {pages} {Not} {} {a b} {note}"),
            ["pages", "x"]
        );
        let fields = CoverFields {
            sender: "fax@x.test".into(),
            recipients: vec!["a@x.test".into()],
            ..CoverFields::default()
        };
        assert_eq!(render("{from} -> {to}", &fields), "fax@x.test -> a@x.test");
        assert!(fields_help().contains("\n  {attachments}  how many files"));
    }

    #[test]
    fn an_unknown_template_names_the_known_ones() {
        assert_eq!(
            template("fancy").unwrap_err().to_string(),
            "no cover page `fancy` (built in: classic; or give a path to a template file)"
        );
    }
}
