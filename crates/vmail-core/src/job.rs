//! Job identity and the SMTP envelope.

use std::fmt;
use thiserror::Error;

/// A job's name in the spool and in every log line. Only ASCII letters,
/// digits, `-` and `_`, at most 64 characters: it is used as a file name, so
/// an id that came from a command line can never reach outside the spool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{id}` is not a job id (letters, digits, '-' and '_', 1 to 64 characters)")]
pub struct InvalidJobId {
    pub id: String,
}

impl JobId {
    pub fn parse(id: &str) -> Result<JobId, InvalidJobId> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(JobId(id.to_string()))
        } else {
            Err(InvalidJobId { id: id.to_string() })
        }
    }

    /// A new id from a UTC timestamp (`YYYYMMDD-HHMMSS`, so that ids sort by
    /// submission time) and a random suffix that makes it unique across the
    /// processes that submit at once.
    pub fn from_parts(timestamp: &str, random: u64) -> Result<JobId, InvalidJobId> {
        JobId::parse(&format!("{timestamp}-{:010x}", random & 0xff_ffff_ffff))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who a message is from and to, as said to the server in `MAIL FROM` and
/// `RCPT TO`. An empty `from` is the null sender `<>` of failure notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub from: String,
    pub recipients: Vec<String>,
}

impl Envelope {
    pub fn new(from: impl Into<String>, recipients: Vec<String>) -> Self {
        Envelope {
            from: from.into(),
            recipients,
        }
    }

    pub fn is_null_sender(&self) -> bool {
        self.from.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_escape_the_spool_are_refused() {
        for bad in [
            "",
            "../etc/passwd",
            "a/b",
            "a b",
            ".hidden",
            &"x".repeat(65),
        ] {
            let err = JobId::parse(bad).unwrap_err();
            assert!(err.to_string().contains("is not a job id"), "{err}");
        }
        assert_eq!(
            JobId::from_parts("20261123-194200", 0xabc)
                .unwrap()
                .as_str(),
            "20261123-194200-0000000abc"
        );
    }
}
