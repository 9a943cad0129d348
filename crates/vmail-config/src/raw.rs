//! The raw layer: what each line of an ini file is, with nothing interpreted.
//!
//! vmail reads `vsisrv.ini` line by line rather than through `rust-ini`.
//! `rust-ini` 0.21 with `ParseOption { enabled_quote: false,
//! enabled_escape: false, .. }` keeps quotes and most backslashes, but it
//! still joins a line that ends in `\` with the next one (`spool =
//! C:\vsifax\spool\` swallows the following line), accepts `:` as a key
//! separator, runs a key without `=` on into the next line, and gives no line
//! numbers for its values. The loader needs a line for every key, and the
//! editor needs the lines themselves, so one small classifier here serves
//! both, and both agree on what every line means.
//!
//! The format: a line is blank, a comment (first non-blank character `;` or
//! `#`), a section header `[NAME]`, or `key = value`. Key and value are
//! trimmed; everything after the first `=` is the value, kept exactly as
//! written: quotes, backslashes, `;` and `#` included (there are no inline
//! comments, since passwords may contain those characters).

/// What one line is.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum LineKind {
    Blank,
    Comment,
    Section { name: String },
    Entry { key: String, value: String },
    Malformed(Malformed),
}

/// Why a line is not understood (the line itself is never echoed: it may be
/// a password written without its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    Section,
    NoEquals,
    EmptyKey,
}

impl Malformed {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Malformed::Section => {
                "malformed section header (a section is written [NAME] alone on its line)"
            }
            Malformed::NoEquals => {
                "malformed line: no \"=\" (a line is \"key = value\", \"[SECTION]\", or a comment starting with ; or #)"
            }
            Malformed::EmptyKey => {
                "malformed line: no key before \"=\" (a line is \"key = value\")"
            }
        }
    }
}

/// Classifies one line (without its line break; a trailing `\r` is ignored).
pub(crate) fn classify(line: &str) -> LineKind {
    // A byte-order mark, as Windows editors write at the start of a file, is not content.
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let text = line.strip_suffix('\r').unwrap_or(line).trim();
    if text.is_empty() {
        return LineKind::Blank;
    }
    if text.starts_with(';') || text.starts_with('#') {
        return LineKind::Comment;
    }
    if let Some(rest) = text.strip_prefix('[') {
        return match rest.strip_suffix(']') {
            Some(name) if !name.trim().is_empty() && !name.contains(['[', ']']) => {
                LineKind::Section {
                    name: name.trim().to_string(),
                }
            }
            _ => LineKind::Malformed(Malformed::Section),
        };
    }
    match text.split_once('=') {
        None => LineKind::Malformed(Malformed::NoEquals),
        Some((key, _)) if key.trim().is_empty() => LineKind::Malformed(Malformed::EmptyKey),
        Some((key, value)) => LineKind::Entry {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        },
    }
}

/// The lines of a text, split on `\n` (a `\r` before it stays with the line
/// and is ignored by [`classify`]). A final line break does not start a line.
pub(crate) fn lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &str) -> LineKind {
        LineKind::Entry {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn values_are_kept_as_written() {
        // LineKind has no Debug (a value may be a password): compare with ==.
        assert!(classify("helo-name = \"x\"") == entry("helo-name", "\"x\""));
        assert!(classify("spool = C:\\vsifax\\spool\\") == entry("spool", "C:\\vsifax\\spool\\"));
        assert!(classify("auth-rsp=a=b;c#d") == entry("auth-rsp", "a=b;c#d"));
        assert!(classify("  key  =  \r") == entry("key", ""));
    }

    #[test]
    fn comments_sections_and_blanks() {
        assert!(classify("   # note") == LineKind::Comment);
        assert!(classify("; note = x") == LineKind::Comment);
        assert!(classify(" \t\r") == LineKind::Blank);
        assert!(
            classify("\u{feff}[VMAIL]\r")
                == LineKind::Section {
                    name: "VMAIL".into()
                }
        );
        assert!(
            classify(" [ VMAIL ] ")
                == LineKind::Section {
                    name: "VMAIL".into()
                }
        );
    }

    #[test]
    fn malformed_lines_say_why() {
        assert!(classify("[VMAIL") == LineKind::Malformed(Malformed::Section));
        assert!(classify("[]") == LineKind::Malformed(Malformed::Section));
        assert!(classify("mail-server smtp") == LineKind::Malformed(Malformed::NoEquals));
        assert!(classify(" = x") == LineKind::Malformed(Malformed::EmptyKey));
    }

    #[test]
    fn a_final_line_break_adds_no_line() {
        assert_eq!(lines("a\nb\n"), vec!["a", "b"]);
        assert_eq!(lines("a\r\nb"), vec!["a\r", "b"]);
        assert!(lines("").is_empty());
    }
}
