//! The Date and Message-ID a message is given. One type for both, because
//! they must come from the same source: the clock and a random number for
//! what a person submits now (`vfx`, the shim), or a drop file's own time
//! and identity for what pickup packs (the spool's `drop_stamp`), so that
//! a drop queued twice (vmaild died between queueing it and removing it) is
//! the same message twice, which the recipient's server or mail program
//! can recognise.

use std::time::SystemTime;

use chrono::{DateTime, FixedOffset, Local, Utc};

/// When a message was written and a number that tells it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The Date field (its offset is kept: the shim writes local time, as
    /// sendmail does).
    pub date: DateTime<FixedOffset>,
    /// The unique part of the Message-ID.
    pub id: u64,
}

impl Stamp {
    /// Now, in local time, with a random id: a message submitted by a person.
    pub fn now() -> Stamp {
        Stamp {
            date: Local::now().fixed_offset(),
            id: vmail_core::unique::random_u64(),
        }
    }

    /// A given time and id: a drop file's modification time and the hash
    /// of its identity, the same on every pickup of the same file.
    pub fn at(written: DateTime<Utc>, id: u64) -> Stamp {
        Stamp {
            date: written.fixed_offset(),
            id,
        }
    }

    /// The Date field's value (RFC 5322).
    pub fn date_value(&self) -> String {
        self.date.to_rfc2822()
    }

    /// The date as a `SystemTime` (for lettre's Date header).
    pub fn system_time(&self) -> SystemTime {
        SystemTime::from(self.date.with_timezone(&Utc))
    }

    /// `<20261201031700.0123456789abcdef@domain>`: the time in UTC, then
    /// the id in hex.
    pub fn message_id(&self, domain: &str) -> String {
        format!(
            "<{}.{:016x}@{domain}>",
            self.date.with_timezone(&Utc).format("%Y%m%d%H%M%S"),
            self.id
        )
    }
}

/// A fresh Message-ID at `domain` (the clock and a random number).
pub fn message_id(domain: &str) -> String {
    Stamp::now().message_id(domain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_given_stamp_gives_the_same_fields_every_time() {
        let written = Utc.with_ymd_and_hms(2026, 12, 1, 3, 17, 0).unwrap();
        let stamp = Stamp::at(written, 0x0123_4567_89ab_cdef);
        assert_eq!(
            stamp.message_id("x.test"),
            "<20261201031700.0123456789abcdef@x.test>"
        );
        assert_eq!(stamp.date_value(), "Tue, 1 Dec 2026 03:17:00 +0000");
        assert_eq!(Stamp::at(written, 0x0123_4567_89ab_cdef), stamp);
        assert_eq!(DateTime::<Utc>::from(stamp.system_time()), written);
    }

    #[test]
    fn fresh_message_ids_differ() {
        let (a, b) = (message_id("x.test"), message_id("x.test"));
        assert_ne!(a, b);
        assert!(a.starts_with('<') && a.ends_with("@x.test>"), "{a}");
    }
}
