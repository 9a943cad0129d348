//! Changing one key of an ini file while keeping everything else: comments,
//! blank lines, the order of keys, the spelling and case of names, the line
//! endings, and the file's mode and owner. The file is replaced atomically
//! (temporary file in the same directory, fsync, rename, fsync of the
//! directory), so a crash leaves either the old file or the new one.

use crate::raw::{self, LineKind};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{}: cannot {action}: {error}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        /// Shown in the message, so not a `source` (which would print it twice).
        error: io::Error,
    },
    #[error("[{section}] {key}: {reason}")]
    BadValue {
        section: String,
        key: String,
        reason: &'static str,
    },
    #[error("\"{name}\" cannot be a section or key name (letters, digits, - and _)")]
    BadName { name: String },
}

/// An ini file as its lines. `Debug` shows the path and the line count,
/// never a value.
pub struct IniDocument {
    path: PathBuf,
    /// Without their `\n`; a `\r` of a CRLF file stays on the line.
    lines: Vec<String>,
    final_newline: bool,
    crlf: bool,
}

impl fmt::Debug for IniDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IniDocument")
            .field("path", &self.path)
            .field("lines", &self.lines.len())
            .finish()
    }
}

/// Where a key is, or where it would go.
enum Spot {
    Found(usize),
    /// Insert at this line index (the section exists).
    Insert(usize),
    NoSection,
}

impl IniDocument {
    pub fn read(path: &Path) -> Result<IniDocument, EditError> {
        let text = fs::read_to_string(path).map_err(|error| EditError::Io {
            path: path.to_path_buf(),
            action: "read it",
            error,
        })?;
        Ok(IniDocument::parse(path, &text))
    }

    /// The document for `text`, to be written to `path`.
    pub fn parse(path: &Path, text: &str) -> IniDocument {
        let lines: Vec<String> = raw::lines(text).into_iter().map(str::to_string).collect();
        IniDocument {
            path: path.to_path_buf(),
            crlf: lines.first().is_some_and(|l| l.ends_with('\r')),
            final_newline: text.ends_with('\n') || text.is_empty(),
            lines,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of `key` in `section` (names in any case), as written.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        match self.find(section, key) {
            Spot::Found(i) => match_value(&self.lines[i]),
            Spot::Insert(_) | Spot::NoSection => None,
        }
    }

    /// Sets `key` in `section`: in place when it exists, else after the
    /// section's last key, else in a new section at the end.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), EditError> {
        check_name(section)?;
        check_name(key)?;
        check_value(section, key, value)?;
        let cr = if self.crlf { "\r" } else { "" };
        match self.find(section, key) {
            Spot::Found(i) => self.lines[i] = replace_value(&self.lines[i], value),
            Spot::Insert(at) => {
                if at == self.lines.len() {
                    self.end_last_line();
                }
                let tight = at > 0
                    && self.lines[at - 1].contains('=')
                    && !self.lines[at - 1].contains(" =");
                let sep = if tight { "=" } else { " = " };
                self.lines.insert(at, format!("{key}{sep}{value}{cr}"));
            }
            Spot::NoSection => {
                self.end_last_line();
                if self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    self.lines.push(cr.to_string());
                }
                self.lines.push(format!("[{section}]{cr}"));
                self.lines.push(format!("{key} = {value}{cr}"));
                self.final_newline = true;
            }
        }
        Ok(())
    }

    /// Lines are about to be appended: the last line gets its line break.
    fn end_last_line(&mut self) {
        if let Some(last) = self.lines.last_mut()
            && self.crlf
            && !last.ends_with('\r')
        {
            last.push('\r');
        }
        self.final_newline = true;
    }

    /// The whole file as it would be written.
    pub fn to_text(&self) -> String {
        let mut text = self.lines.join("\n");
        if self.final_newline && !self.lines.is_empty() {
            text.push('\n');
        }
        text
    }

    /// Replaces the file atomically, keeping its mode and (where allowed)
    /// its owner. A symbolic link is followed: its target is replaced.
    pub fn write(&self) -> Result<(), EditError> {
        let target = fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let err = |action: &'static str| {
            let path = target.clone();
            move |error| EditError::Io {
                path,
                action,
                error,
            }
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let old = fs::metadata(&target).ok();
        let mut tmp = tempfile::Builder::new()
            .prefix(".vsisrv.")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(err("create a temporary file beside it"))?;
        tmp.write_all(self.to_text().as_bytes())
            .map_err(err("write a temporary file beside it"))?;
        if let Some(old) = &old {
            // Only root may give a file away; anyone else keeps their own.
            let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(old.uid()), Some(old.gid()));
            tmp.as_file()
                .set_permissions(old.permissions())
                .map_err(err("keep its mode"))?;
        }
        tmp.as_file().sync_all().map_err(err("sync it"))?;
        tmp.persist(&target)
            .map_err(|e| e.error)
            .map_err(err("replace it"))?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(err("sync its directory"))?;
        Ok(())
    }

    /// The key's line; else the line after a commented-out `;key = ...` of
    /// the section (so a shipped file's example is set where it is
    /// documented); else the line after the section's last key.
    fn find(&self, section: &str, key: &str) -> Spot {
        let mut in_section = false;
        let mut insert_at = None;
        let mut after_comment = None;
        for (i, line) in self.lines.iter().enumerate() {
            match raw::classify(line) {
                LineKind::Section { name } => {
                    in_section = name.eq_ignore_ascii_case(section);
                    if in_section {
                        insert_at = Some(i + 1);
                    }
                }
                LineKind::Entry { key: k, .. } if in_section => {
                    if k.eq_ignore_ascii_case(key) {
                        return Spot::Found(i);
                    }
                    insert_at = Some(i + 1);
                }
                LineKind::Comment
                    if in_section
                        && after_comment.is_none()
                        && commented_key(line).is_some_and(|k| k.eq_ignore_ascii_case(key)) =>
                {
                    after_comment = Some(i + 1);
                }
                _ => {}
            }
        }
        after_comment
            .or(insert_at)
            .map_or(Spot::NoSection, Spot::Insert)
    }
}

/// The key of a commented-out entry: `;key = value` or `# key =` (no
/// space inside the key, so prose with an `=` does not count).
fn commented_key(line: &str) -> Option<&str> {
    let body = line.trim().trim_start_matches([';', '#']).trim_start();
    let (key, _) = body.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.contains(char::is_whitespace)).then_some(key)
}

fn match_value(line: &str) -> Option<&str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.split_once('=').map(|(_, v)| v.trim())
}

/// The line with its value replaced, keeping the key as written and the
/// spacing around `=`.
fn replace_value(line: &str, value: &str) -> String {
    let (body, cr) = match line.strip_suffix('\r') {
        Some(body) => (body, "\r"),
        None => (line, ""),
    };
    let Some(eq) = body.find('=') else {
        return line.to_string();
    };
    let (prefix, rest) = body.split_at(eq + 1);
    let spacing = if rest.trim().is_empty() {
        if prefix[..eq].ends_with([' ', '\t']) {
            " "
        } else {
            ""
        }
    } else {
        &rest[..rest.len() - rest.trim_start().len()]
    };
    format!("{prefix}{spacing}{value}{cr}")
}

fn check_name(name: &str) -> Result<(), EditError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(EditError::BadName {
            name: name.to_string(),
        })
    }
}

fn check_value(section: &str, key: &str, value: &str) -> Result<(), EditError> {
    let reason = if value.contains(['\n', '\r']) {
        "the value contains a line break (a value is one line)"
    } else if value != value.trim() {
        "the value starts or ends with a space, which the ini cannot keep (encrypt it with -e to keep it)"
    } else {
        return Ok(());
    };
    Err(EditError::BadValue {
        section: section.to_string(),
        key: key.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "; vmail\n\n[VMAIL]\n# the server\nMail-Server = old.example\nmail-port=25\n\n[VFXSCHED]\nspool = /var/spool/vmail\n";

    fn doc(text: &str) -> IniDocument {
        IniDocument::parse(Path::new("/nowhere/vsisrv.ini"), text)
    }

    #[test]
    fn replaces_in_place_keeping_spelling_and_everything_else() {
        let mut d = doc(SAMPLE);
        d.set("vmail", "mail-server", "new.example").unwrap();
        d.set("VMAIL", "MAIL-PORT", "587").unwrap();
        assert_eq!(
            d.to_text(),
            SAMPLE
                .replace("old.example", "new.example")
                .replace("mail-port=25", "mail-port=587")
        );
        assert_eq!(d.get("VMAIL", "mail-server"), Some("new.example"));
    }

    #[test]
    fn adds_after_the_last_key_of_the_section_or_a_new_section() {
        let mut d = doc(SAMPLE);
        d.set("VMAIL", "auth-rsp", "enc:v1:AAAA").unwrap();
        d.set("NEW", "x", "1").unwrap();
        assert_eq!(
            d.to_text(),
            "; vmail\n\n[VMAIL]\n# the server\nMail-Server = old.example\nmail-port=25\nauth-rsp=enc:v1:AAAA\n\n[VFXSCHED]\nspool = /var/spool/vmail\n\n[NEW]\nx = 1\n"
        );
    }

    #[test]
    fn a_commented_out_example_is_set_just_below_itself() {
        let mut d =
            doc("[VMAIL]\nmail-server = a\n\n; the port\n;mail-port = 25\n\n; tls\n;tls = none\n");
        d.set("VMAIL", "mail-port", "587").unwrap();
        d.set("VMAIL", "from", "a@b").unwrap();
        assert_eq!(
            d.to_text(),
            "[VMAIL]\nmail-server = a\n\n; the port\n;mail-port = 25\nmail-port = 587\nfrom = a@b\n\n; tls\n;tls = none\n",
            "a new key goes after the section's last key"
        );
    }

    #[test]
    fn an_empty_section_gets_the_key_under_its_header() {
        let mut d = doc("[VMAIL]\n\n[VFXSCHED]\n");
        d.set("VMAIL", "from", "a@b").unwrap();
        assert_eq!(d.to_text(), "[VMAIL]\nfrom = a@b\n\n[VFXSCHED]\n");
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let mut d = doc("[VMAIL]\r\nfrom =\r\ntimeout = 5\r\n");
        d.set("VMAIL", "from", "a@b").unwrap();
        d.set("VMAIL", "debug", "2").unwrap();
        assert_eq!(
            d.to_text(),
            "[VMAIL]\r\nfrom = a@b\r\ntimeout = 5\r\ndebug = 2\r\n"
        );
        assert_eq!(d.get("VMAIL", "timeout"), Some("5"));
    }

    #[test]
    fn a_missing_final_newline_stays_missing_unless_a_line_is_added_at_the_end() {
        let mut d = doc("[VMAIL]\r\ntimeout = 5");
        d.set("VMAIL", "timeout", "6").unwrap();
        assert_eq!(d.to_text(), "[VMAIL]\r\ntimeout = 6");
        d.set("VMAIL", "debug", "2").unwrap();
        assert_eq!(d.to_text(), "[VMAIL]\r\ntimeout = 6\r\ndebug = 2\r\n");
    }

    #[test]
    fn refuses_values_the_file_cannot_hold() {
        let mut d = doc(SAMPLE);
        let err = d.set("VMAIL", "from", "a@b\n[X]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "[VMAIL] from: the value contains a line break (a value is one line)"
        );
        assert!(d.set("VMAIL", "from", " a@b").is_err());
        assert!(d.set("VM]AIL", "from", "a@b").is_err());
        assert_eq!(d.to_text(), SAMPLE);
    }

    #[test]
    fn debug_shows_no_value() {
        let d = doc("[VMAIL]\nauth-rsp = user:hunter2\n");
        let shown = format!("{d:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
