//! Cover pages: plain-text templates with `{name}` fields, shipped inside
//! the binary (`templates/*.txt`), or read from a file when `-C` names a path.
//!
//! Fields: `{date}`, `{sender}`, `{recipients}`, `{subject}`,
//! `{file_count}`, `{files}` (one line per file with its size) and `{note}`.

use std::path::Path;

/// The templates built into vfx: name and text.
pub const BUILT_IN: &[(&str, &str)] = &[("classic", include_str!("../templates/classic.txt"))];

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

/// Fills the `{name}` fields of `template`. Unknown fields stay as written.
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
    template
        .replace("{date}", &fields.date)
        .replace("{sender}", &fields.sender)
        .replace("{recipients}", &fields.recipients.join(", "))
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
    fn an_unknown_template_names_the_known_ones() {
        assert_eq!(
            template("fancy").unwrap_err().to_string(),
            "no cover page `fancy` (built in: classic; or give a path to a template file)"
        );
    }
}
