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

    /// The id of a job made on this job's behalf (its failure notice, the
    /// recipients it requeues), the same every time it is asked for: a
    /// worker killed after queueing such a job and before recording the
    /// original finds it queued already, and does not make a second.
    /// Keeps this id's timestamp, so both sort together.
    pub fn derived(&self, purpose: &str) -> JobId {
        let stamp = self
            .0
            .rsplit_once('-')
            .map_or("derived", |(stamp, _)| stamp);
        let hash = fnv1a(self.0.bytes().chain([0]).chain(purpose.bytes()));
        JobId::from_parts(stamp, hash).unwrap_or_else(|_| JobId(format!("derived-{hash:016x}")))
    }
}

/// FNV-1a, 64 bits: stable across processes and versions, which the
/// standard library's hashers promise not to be.
fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
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
    /// The job's own DSN request (a `.job`'s `notify =`, the shim's `-N`);
    /// empty for most jobs, which take `[VMAIL] dsn-notify`.
    pub dsn: crate::dsn::Dsn,
}

impl Envelope {
    pub fn new(from: impl Into<String>, recipients: Vec<String>) -> Self {
        Envelope {
            from: from.into(),
            recipients,
            dsn: crate::dsn::Dsn::default(),
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

    #[test]
    fn derived_ids_are_stable_distinct_and_sort_with_their_job() {
        let id = JobId::parse("20261201-231144-00a1b2c3d4").unwrap();
        let notice = id.derived("notice");
        assert_eq!(notice, id.derived("notice"));
        assert_ne!(notice, id.derived("requeue"));
        assert_ne!(notice, id);
        assert!(notice.as_str().starts_with("20261201-231144-"), "{notice}");
        assert_eq!(notice.as_str().len(), id.as_str().len());
        let chained = notice.derived("notice");
        assert_eq!(chained.as_str().len(), id.as_str().len());
    }
}
