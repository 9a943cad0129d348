//! vmail's spool: the on-disk queue between the programs that submit jobs
//! and the daemon that delivers them. Crash-safe, and knowing nothing of SMTP.
//!
//! # Layout
//!
//! Under the spool root (`[VFXSCHED] spool`, e.g. `/var/spool/vmail`);
//! folders are created as needed with mode 0750, files with mode 0640, and a
//! folder that others may write to is refused:
//!
//! | path | what |
//! |---|---|
//! | `in/` | the drop folder: other programs *rename* complete files in here |
//! | `queue/<id>` | a queued job's message file, written once, never changed |
//! | `queue/<id>.state` | its state record, rewritten atomically; absent for a fresh job |
//! | `tmp/` | files being written; emptied by [`Spool::recover`], but for those of a writer still alive |
//! | `logs/<id>.log` | one job's log; `logs/vmail` is the daemon's own log |
//! | `sent/`, `failed/` | finished jobs (message and state), moved by rename |
//! | `quarantine/` | drops that could not be understood, each with `<name>.reason` |
//! | `maildrop/` | local users' submissions through `vmail-postdrop` (mode 1730; see [`deposit`]) |
//! | `vmaild.pid` | the pid lock of the running daemon |
//!
//! # Crash safety
//!
//! Every file is written in `tmp/` (same file system), fsynced, then renamed
//! or linked into place, and the directory is fsynced. The queue therefore
//! only ever holds complete files; a crash leaves at worst a temp file that
//! [`Spool::recover`] removes. A job is queued once its message file is in
//! `queue/`: one file and one fsync commit it (plus the directory's fsync,
//! which [`Batch`] shares between many jobs). Finishing a job renames the
//! message first, then the state; a crash between the two is repaired by
//! `recover`. A job killed between the server's 250 and `finish_sent` is sent
//! again: never lost.
//!
//! # The message file
//!
//! The envelope, then the message as submitted (the submitter normalises
//! line endings and dot-stuffs on the wire):
//!
//! ```text
//! Fsender@example.com
//! Trecipient@example.org
//! Tanother@example.net
//!
//! From: ...
//! ```
//!
//! `F` + the envelope sender (empty for the null sender `<>`), one `T` line
//! per recipient, a blank line. The state record is described in
//! [`JobState`].
//!
//! # Drops
//!
//! [`Spool::drops`] lists the files in `in/`; dot-files, `*.tmp` and
//! folders are left alone, so a program writes `in/.x` or `in/x.tmp` and
//! renames it to its final name when complete. [`Spool::ingest`] queues a
//! drop or quarantines it with a reason. Links are never followed: a symbolic
//! link, a file with more than one hard link or anything but a regular file
//! is quarantined. Two formats:
//!
//! * `NAME.eml`: a complete RFC 5322 message. The recipients are the
//!   addresses of its To, Cc and Bcc fields (groups and display names
//!   allowed); the Bcc field is removed from what is queued. The envelope
//!   sender is `[VMAIL] from` when set, else the address of its From field.
//! * `NAME.job`: a small ini file, packed into a MIME message (with Date and
//!   Message-ID) at pickup:
//!
//! ```ini
//! # in/invoice-42.job
//! [job]
//! to = "Ann Example" <ann@example.com>, bob@example.com
//! cc = accounts@example.com
//! bcc = archive@example.com
//! from = Fax Server <fax@example.com>
//! subject = Invoice 42
//! body = Please find the invoice attached.
//! body = (A second `body` line continues the text.)
//! attach = invoice-42.files/invoice.pdf, invoice-42.files/scan.tiff
//! attach = invoice-42.files/logo.png
//! ```
//!
//!   `to`, `cc`, `bcc` are address lists and may repeat; `from` defaults to
//!   `[VMAIL] from`; `body-file` names a UTF-8 text file whose content
//!   follows the `body` lines. `attach` (comma lists, may repeat) and
//!   `body-file` name files relative to the job file, in a folder beside it
//!   (a top-level file in `in/` that is neither `.eml` nor `.job` is itself
//!   quarantined); absolute paths, `..` and symbolic links are refused.
//!   Attachment types follow the file name (PDF, TIFF, PNG, JPEG, text;
//!   `application/octet-stream` otherwise). `attach-as = pdf` (or `[VMAIL]
//!   fax-attach-as = pdf`) sends each TIFF as one PDF (`vmail-fax`); one
//!   that cannot be converted is sent as it is, with the reason in the job
//!   log and the text. The files named are removed once
//!   the job is queued, and their folder when it is left empty.
//!
//! Anything else (another suffix, binary garbage, an empty file, a file over
//! the size limit) goes to `quarantine/`. When a `.job` is quarantined, the
//! files it names stay where they are for the administrator to inspect.
//!
//! # Use
//!
//! ```
//! use std::io::Read;
//! use vmail_core::Envelope;
//! use vmail_spool::Spool;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let root = dir.path().join("spool");
//! let spool = Spool::open(&root)?;              // creates the layout
//! let _lock = spool.lock()?;                     // the daemon only
//! let recovery = spool.recover()?;               // at start, under the lock
//! assert_eq!(recovery.temp_removed, 0);
//!
//! // vfx and the sendmail shim: queue a message (streamed, fsynced).
//! let envelope = Envelope::new("fax@example.com", vec!["ann@example.org".into()]);
//! let message = "From: fax@example.com\r\nTo: ann@example.org\r\n\r\nHello\r\n";
//! let id = spool.submit(&envelope, message.as_bytes(), 10 << 20)?;
//!
//! // The daemon: read the job, stream its message, record the attempt.
//! let job = spool.load(&id)?;
//! assert_eq!(job.envelope, envelope);
//! let mut text = String::new();
//! spool.open_message(&id)?.read_to_string(&mut text)?;
//! assert_eq!(text, message);
//! spool.job_log(&id)?.append("delivered: 250 2.0.0 Ok: queued as 4F2A")?;
//! spool.finish_sent(&id)?;
//! assert!(spool.ids()?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Nothing leaves `queue/` while a job is being delivered (there are no
//! claims on disk; the daemon's scheduler is the one owner of what is in
//! flight), so after a crash every unfinished job is simply still queued.
#![forbid(unsafe_code)]

mod drops;
mod eml;
mod entry;
mod error;
mod fsutil;
mod jobfile;
mod joblog;
mod maildrop;
mod quarantine;
mod queue;
mod spool;
mod state;
mod submit;

pub use drops::DropRules;
pub use entry::{EnvelopeError, Header, HeaderError, read_header};
pub use error::{Corrupt, IngestError, NotPermitted, SpoolError};
pub use fsutil::{DIR_MODE, FILE_MODE};
pub use joblog::{JobLog, LogLines};
pub use maildrop::{
    Ids, MAILDROP_FILE_MODE, MAILDROP_MODE, MaildropError, Submitter, deposit, open_dir_no_follow,
    open_no_follow, user_name, write_submission,
};
pub use quarantine::{QuarantineError, Quarantined};
pub use queue::{JobLock, MessageReader, QueueIds, QueuedJob};
pub use spool::{Recovery, Spool, SpoolLock};
pub use state::{AdminAction, BadValue, JobState, StateError, format_time};
pub use submit::Batch;

/// Entry points for the fuzz targets in `fuzz/`, not part of the API: what
/// pickup makes of a dropped file, on bytes in memory.
#[doc(hidden)]
pub mod fuzz {
    use std::path::Path;
    use vmail_core::Envelope;

    /// A `.job` drop: parsed and packed into the message that would be
    /// queued. The files it names are looked up under `base` (a folder that
    /// does not exist reads none).
    pub fn job_file(
        bytes: &[u8],
        base: &Path,
        default_from: &str,
    ) -> Result<(Envelope, Vec<u8>), Rejected> {
        crate::jobfile::pack(bytes.to_vec(), base, default_from, u64::MAX, None)
            .map(|(message, envelope, _)| (envelope, message))
            .map_err(Rejected)
    }

    /// The header of an `.eml` drop: the envelope and the header that would
    /// be queued (fields added, Bcc removed).
    pub fn eml_header(bytes: &[u8], default_from: &str) -> Result<(Envelope, Vec<u8>), Rejected> {
        crate::eml::header_of(bytes, default_from).map_err(Rejected)
    }

    /// Why pickup would quarantine the drop, in the words of its
    /// quarantine note.
    #[derive(Debug, thiserror::Error)]
    #[error(transparent)]
    pub struct Rejected(crate::error::DropError);

    impl Rejected {
        /// True when the message names no one (To, Cc and Bcc empty): what
        /// a message packed from a Bcc-only job is, by design.
        pub fn has_no_recipients(&self) -> bool {
            matches!(
                self.0,
                crate::error::DropError::Envelope(vmail_message::EnvelopeError::NoRecipients)
            )
        }
    }
}
