//! The spool's errors. Every message names the path it is about and, where
//! there is one, the fix, because the reader is an administrator looking at a
//! log line or a terminal.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use vmail_core::{InvalidJobId, JobId};

/// Something the spool could not do. I/O errors keep the path and the action.
#[derive(Debug, Error)]
pub enum SpoolError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "spool directory {} is writable by others (mode {mode:04o}); fix it with `chmod o-w {}`",
        path.display(),
        path.display()
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
    #[error("{} is not a directory; the spool needs a directory there", path.display())]
    NotADirectory { path: PathBuf },
    /// The spool is not this process's to write (boxed: the details are
    /// large and rare).
    #[error(transparent)]
    NotPermitted(Box<NotPermitted>),
    #[error("vmaild is already running on {} ({})", spool.display(), describe_pid(*pid))]
    AlreadyRunning { spool: PathBuf, pid: Option<u32> },
    #[error("the message is {size} bytes, over the limit of {limit} bytes; nothing was queued")]
    TooLarge { size: u64, limit: u64 },
    #[error("bad envelope: {0}; nothing was queued")]
    BadEnvelope(#[from] crate::entry::EnvelopeError),
    #[error("the message is empty; nothing was queued")]
    EmptyMessage,
    /// A batch of one committed no job: a bug, said rather than panicked.
    #[error("the job vanished before it was queued")]
    NothingCommitted,
    #[error("no job {id} in the queue of {}", spool.display())]
    UnknownJob { id: JobId, spool: PathBuf },
    #[error(transparent)]
    InvalidId(#[from] InvalidJobId),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// The spool (or a folder or file in it) is not this process's to
/// write: typically left root-owned by a run as root. The text names
/// the path, its owner and the `chown` that gives the tree to the user
/// the process runs as. The io error is not kept as a source: its
/// whole content is "Permission denied", which the text already says.
#[derive(Debug, Error)]
#[error(
    "cannot {action} {}: permission denied for {user}, the user this runs as \
     ({} belongs to {owner}, {}); give the spool to {user} with `chown -R {user}:{group} {}`",
    path.display(),
    owned.display(),
    describe_mode(*mode),
    root.display()
)]
pub struct NotPermitted {
    pub action: &'static str,
    pub path: PathBuf,
    /// The path whose owner is shown: `path`, or its folder when
    /// `path` cannot be seen.
    pub owned: PathBuf,
    /// `user:group` of `owned`.
    pub owner: String,
    pub mode: Option<u32>,
    pub user: String,
    pub group: String,
    pub root: PathBuf,
}

fn describe_mode(mode: Option<u32>) -> String {
    match mode {
        Some(mode) => format!("mode {mode:04o}"),
        None => "mode unknown".to_string(),
    }
}

fn describe_pid(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown: the lock is held but the pid file is empty".to_string(),
    }
}

impl SpoolError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SpoolError {
        let path = path.to_path_buf();
        move |source| SpoolError::Io {
            action,
            path,
            source,
        }
    }

    /// True for an unknown job id, so a CLI can exit with "no such job".
    pub fn is_unknown_job(&self) -> bool {
        matches!(self, SpoolError::UnknownJob { .. })
    }

    /// The corrupt entry, when that is what went wrong.
    pub fn corrupt(&self) -> Option<&Corrupt> {
        match self {
            SpoolError::Corrupt(corrupt) => Some(corrupt),
            _ => None,
        }
    }
}

/// A file the spool cannot understand: a drop that was quarantined, or a
/// queue entry (message or state record) that does not parse. A value, never
/// a panic: the daemon logs it and goes on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {reason}", path.display())]
pub struct Corrupt {
    /// The file as it was found (for a drop: its path in `in/`).
    pub path: PathBuf,
    /// What is wrong, in words an administrator understands.
    pub reason: String,
    /// The queue entry it belongs to, when it is one.
    pub id: Option<JobId>,
    /// Where the file went, when it was moved to `quarantine/`.
    pub quarantined: Option<PathBuf>,
}

impl Corrupt {
    pub(crate) fn new(path: &Path, reason: impl Into<String>) -> Corrupt {
        Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
            id: None,
            quarantined: None,
        }
    }

    pub(crate) fn of_job(mut self, id: &JobId) -> Corrupt {
        self.id = Some(id.clone());
        self
    }
}

/// Why a drop was not queued: the file is bad (it went to `quarantine/`), or
/// the spool itself failed (disk full, permissions): then the file is left in
/// `in/` to be tried again.
#[derive(Debug, Error)]
pub enum IngestError {
    #[error(transparent)]
    Quarantined(Corrupt),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

impl IngestError {
    pub fn corrupt(&self) -> Option<&Corrupt> {
        match self {
            IngestError::Quarantined(corrupt) => Some(corrupt),
            IngestError::Spool(_) => None,
        }
    }
}

/// Why a dropped file cannot be queued: the reason its quarantine note
/// gives, as the end of a sentence that starts with the file's name.
#[derive(Debug, Error)]
pub(crate) enum DropError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Header(#[from] vmail_message::HeaderError),
    #[error(transparent)]
    Envelope(#[from] vmail_message::EnvelopeError),
    #[error("cannot be read: {0}")]
    Unreadable(#[source] io::Error),
    #[error("contains NUL bytes: it is not a text job file")]
    JobNotText,
    #[error("is not a UTF-8 text job file")]
    JobNotUtf8,
    #[error("line {line} is not `key = value`")]
    NotKeyValue { line: usize },
    #[error("line {line}: unknown key `{key}` (known: {known})")]
    UnknownKey {
        line: usize,
        key: String,
        known: &'static str,
    },
    #[error("line {line}: `{key}`: {source}")]
    BadDsn {
        line: usize,
        key: String,
        #[source]
        source: vmail_core::DsnError,
    },
    #[error("line {line}: `attach-as`: \"{value}\" is not a way to attach a fax (pdf, tiff)")]
    BadAttachAs { line: usize, value: String },
    #[error("line {line}: unknown section `[{name}]` (known: [job], [fields])")]
    UnknownSection { line: usize, name: String },
    #[error(
        "line {line}: field `{key}` is not a name (letters, digits, `-` and `_`, starting with a letter)"
    )]
    BadFieldName { line: usize, key: String },
    #[error("line {line}: field `{key}` is given twice")]
    FieldTwice { line: usize, key: String },
    #[error("has a [fields] section but no `template` to fill in")]
    FieldsWithoutTemplate,
    #[error(
        "names template `{name}` and sets `{key}` too: the template gives the subject and the body"
    )]
    TemplateAndText { name: String, key: &'static str },
    #[error("names template `{name}`, but this pickup has no templates folder")]
    NoTemplates { name: String },
    #[error(transparent)]
    Template(#[from] vmail_message::TemplateError),
    #[error("has no sender: no `from` key, and [VMAIL] from is not set")]
    NoSender,
    #[error("`from = {value}` is not an address")]
    BadFrom { value: String },
    #[error("`{key} = {value}` is not a list of addresses")]
    BadList { key: &'static str, value: String },
    #[error("has no recipients: `to`, `cc` and `bcc` are all empty")]
    NoRecipients,
    #[error("body-file `{name}` is not UTF-8 text")]
    BodyNotUtf8 { name: String },
    /// A file a job file names (`attach`, `body-file`) that cannot be used.
    #[error("{key} `{name}` {why}")]
    Named {
        key: &'static str,
        name: String,
        why: NamedFileError,
    },
    #[error("attach `{name}`: no MIME type for it")]
    NoMimeType { name: String },
    #[error("cannot be packed into a message: {0}")]
    Pack(#[source] vmail_message::MimeError),
}

/// What is wrong with a file named in a job file (after its key and name).
#[derive(Debug, Error)]
pub(crate) enum NamedFileError {
    #[error("is an absolute path; name a file beside the job file")]
    Absolute,
    #[error("leaves the drop folder (`..` is refused)")]
    LeavesTheFolder,
    #[error("is a symbolic link; vmail does not follow links")]
    SymbolicLink,
    #[error("cannot be read: {0}")]
    Unreadable(#[source] io::Error),
    #[error("makes the job larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// Why a drop or a file it names was not opened: the open follows no link
/// and waits for no writer, and the file must be plain.
#[derive(Debug, Error)]
pub(crate) enum OpenError {
    #[error("cannot be read: {0}")]
    Unreadable(#[source] io::Error),
    #[error("cannot be opened: {0}")]
    Unopenable(#[source] io::Error),
    #[error("is a symbolic link; vmail does not follow links")]
    SymbolicLink,
    #[error("has a symbolic link or a file where a folder should be; vmail does not follow links")]
    LinkOnTheWay,
    #[error("is not a regular file")]
    NotRegular,
    #[error("has {links} hard links; a dropped file must have exactly one")]
    HardLinks { links: u64 },
    #[error("was replaced while it was being opened")]
    Replaced,
    #[error("names no file")]
    NoFile,
}
