//! What an administrator reads: one line per problem, naming the file, the
//! line and the key, in the form
//! `PATH:LINE: [SECTION] key: what is wrong (what is allowed)`.

use std::fmt;
use std::path::{Path, PathBuf};

/// One error or warning about the configuration. `Display` renders it as one
/// line; the fields are there for programs that want to sort or filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in (the ini, or the key file).
    pub path: PathBuf,
    /// The 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// The section as vmail names it (`VMAIL`, `VFXSCHED`) or as written,
    /// for an unknown one.
    pub section: Option<String>,
    /// The key as vmail names it (lower case), or as written, for an unknown one.
    pub key: Option<String>,
    /// What is wrong, and in parentheses what is allowed. Never holds a
    /// secret's value.
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: None,
            section: None,
            key: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(
        path: &Path,
        line: Option<usize>,
        section: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line,
            section: section.map(str::to_string),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match (&self.section, &self.key) {
            (Some(section), Some(key)) => write!(f, ": [{section}] {key}")?,
            (Some(section), None) => write!(f, ": [{section}]")?,
            (None, Some(key)) => write!(f, ": {key}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// A configuration that cannot be used: every error found, one per line, and
/// the warnings found on the way (which `Display` leaves out; show them too).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_section_key_and_message() {
        let d = Diagnostic::at(
            Path::new("/etc/vmail/vsisrv.ini"),
            Some(7),
            Some("VMAIL"),
            Some("mail-port"),
            "\"99999\" is not a port (1-65535)",
        );
        assert_eq!(
            d.to_string(),
            "/etc/vmail/vsisrv.ini:7: [VMAIL] mail-port: \"99999\" is not a port (1-65535)"
        );
        let whole = Diagnostic::file(Path::new("/x.ini"), "cannot read: gone");
        assert_eq!(whole.to_string(), "/x.ini: cannot read: gone");
    }

    #[test]
    fn errors_are_one_per_line() {
        let a = Diagnostic::file(Path::new("a"), "one");
        let b = Diagnostic::file(Path::new("a"), "two");
        let all = ConfigErrors {
            errors: vec![a, b],
            warnings: vec![],
        };
        assert_eq!(all.to_string(), "a: one\na: two");
    }
}
