//! `*.job` drops: a small ini file naming recipients, subject, body and
//! attachments, packed into a MIME message at pickup by `vmail-message`
//! (this module parses the file and reads the files it names, carefully).
//! The format is documented in the crate docs.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};

use vmail_core::Envelope;
use vmail_message::address::{self, Mailbox, Mailboxes};
use vmail_message::template::{self, Fields, Templates};
use vmail_message::{Attachment, Draft, LocalNames, MimeError, Rewrite, Stamp, mime};

use crate::drops::{DropRules, Prepared, open_beneath};
use crate::error::{DropError, NamedFileError};

/// The keys a job file may use.
const KEYS: &str =
    "to, cc, bcc, from, subject, body, body-file, attach, attach-as, template, notify, ret";

/// A job file, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct JobFile {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub body: Vec<String>,
    pub body_file: Option<String>,
    pub attach: Vec<String>,
    /// `template = NAME`: the subject and body come from
    /// `templates/NAME.j2`, filled in with `fields`.
    pub template: Option<String>,
    /// The `[fields]` section, keys in lower case.
    pub fields: Fields,
    /// `notify =` and `ret =`: the job's DSN request (RFC 3461), over
    /// `[VMAIL] dsn-notify` and `dsn-return`.
    pub dsn: vmail_core::Dsn,
    /// `attach-as = pdf | tiff`: how its fax TIFFs are attached, over
    /// `[VMAIL] fax-attach-as`.
    pub attach_as: Option<vmail_core::AttachAs>,
}

/// The section a line of a job file is in.
#[derive(Clone, Copy)]
enum Section {
    Job,
    Fields,
}

impl JobFile {
    /// Parses the ini text; errors name the line.
    pub fn parse(text: &str) -> Result<JobFile, DropError> {
        let mut job = JobFile::default();
        let mut section = Section::Job;
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let n = number + 1;
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = match name.trim().to_ascii_lowercase().as_str() {
                    "job" => Section::Job,
                    "fields" => Section::Fields,
                    _ => {
                        return Err(DropError::UnknownSection {
                            line: n,
                            name: name.trim().to_string(),
                        });
                    }
                };
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or(DropError::NotKeyValue { line: n })?;
            if let Section::Fields = section {
                job.add_field(n, key.trim(), value.trim())?;
                continue;
            }
            if job.set_dsn(n, key.trim(), value.trim())? {
                continue;
            }
            if key.trim().eq_ignore_ascii_case("attach-as") {
                let value = value.trim();
                let parsed = vmail_core::AttachAs::parse(value).ok_or(DropError::BadAttachAs {
                    line: n,
                    value: value.to_string(),
                })?;
                job.attach_as = Some(parsed);
                continue;
            }
            if !job.set(key.trim(), value.trim()) {
                return Err(DropError::UnknownKey {
                    line: n,
                    key: key.trim().to_ascii_lowercase(),
                    known: KEYS,
                });
            }
        }
        Ok(job)
    }

    /// Sets `key`; false for a key the format does not have.
    fn set(&mut self, key: &str, value: &str) -> bool {
        match key.to_ascii_lowercase().as_str() {
            "to" => self.to.push(value.to_string()),
            "cc" => self.cc.push(value.to_string()),
            "bcc" => self.bcc.push(value.to_string()),
            "from" => self.from = Some(value.to_string()),
            "subject" => self.subject = Some(value.to_string()),
            "body" => self.body.push(value.to_string()),
            "body-file" => self.body_file = Some(value.to_string()),
            "template" => self.template = Some(value.to_string()),
            "attach" => self.attach.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            ),
            _ => return false,
        }
        true
    }
}

impl JobFile {
    /// Sets `notify` or `ret`; false for any other key.
    fn set_dsn(&mut self, line: usize, key: &str, value: &str) -> Result<bool, DropError> {
        let bad = |source| DropError::BadDsn {
            line,
            key: key.to_ascii_lowercase(),
            source,
        };
        match key.to_ascii_lowercase().as_str() {
            "notify" => self.dsn.notify = Some(vmail_core::DsnNotify::parse(value).map_err(bad)?),
            "ret" => self.dsn.ret = Some(vmail_core::DsnReturn::parse(value).map_err(bad)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Adds a `[fields]` line. A field's name becomes a template variable
    /// (`-` as `_`), so it must make one; a field given twice is a
    /// mistake, not an override.
    fn add_field(&mut self, line: usize, key: &str, value: &str) -> Result<(), DropError> {
        let key = key.to_ascii_lowercase();
        let named = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !named {
            return Err(DropError::BadFieldName { line, key });
        }
        if self
            .fields
            .keys()
            .any(|k| template::variable(k) == template::variable(&key))
        {
            return Err(DropError::FieldTwice { line, key });
        }
        self.fields.insert(key, value.to_string());
        Ok(())
    }

    /// The subject and body: the job's own, or its template's rendered
    /// with its fields. Rendering happens here, at pickup, once: what is
    /// queued is the finished message.
    fn subject_and_text(
        &self,
        base: &Path,
        templates: Option<&Templates>,
        limit: u64,
    ) -> Result<(Option<String>, String, Vec<PathBuf>), DropError> {
        let Some(name) = &self.template else {
            if !self.fields.is_empty() {
                return Err(DropError::FieldsWithoutTemplate);
            }
            let (text, consumed) = body_text(self, base, limit)?;
            return Ok((self.subject.clone(), text, consumed));
        };
        let own = [
            ("subject", self.subject.is_some()),
            ("body", !self.body.is_empty()),
            ("body-file", self.body_file.is_some()),
        ];
        if let Some((key, _)) = own.iter().find(|(_, set)| *set) {
            return Err(DropError::TemplateAndText {
                name: name.clone(),
                key,
            });
        }
        let templates = templates.ok_or_else(|| DropError::NoTemplates { name: name.clone() })?;
        let mut rendered = templates.render(name, &self.fields)?;
        if !rendered.body.ends_with('\n') {
            rendered.body.push('\n');
        }
        Ok((Some(rendered.subject), rendered.body, Vec::new()))
    }
}

/// Reads the job file at `path`, packs the message, returns it to queue.
pub(crate) fn prepare(
    mut file: File,
    path: &Path,
    rules: &DropRules<'_>,
    stamp: &Stamp,
) -> Result<Prepared, DropError> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(DropError::Unreadable)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let origin = Origin {
        default_from: rules.default_from,
        names: rules.names,
        templates: rules.templates,
        fax_attach_as: rules.fax_attach_as,
    };
    let packed = pack_job(bytes, base, &origin, rules.limit, stamp)?;
    Ok(Prepared {
        envelope: packed.envelope,
        message: Box::new(Cursor::new(packed.message)),
        consumed: packed.consumed,
        rewrites: packed.rewrites,
        faxes: packed.faxes,
    })
}

/// What a job takes from outside the file: `[VMAIL] from`, where names
/// without a domain go, and the templates folder.
struct Origin<'a> {
    default_from: &'a str,
    names: &'a LocalNames,
    templates: Option<&'a Templates>,
    /// `[VMAIL] fax-attach-as`, for jobs that do not say.
    fax_attach_as: vmail_core::AttachAs,
}

/// A packed job: the message, its envelope, the files it consumed, and the
/// local names that were rewritten.
struct Packed {
    message: Vec<u8>,
    envelope: Envelope,
    consumed: Vec<PathBuf>,
    rewrites: Vec<Rewrite>,
    /// What became of each fax TIFF sent as PDF, for the job log.
    faxes: Vec<String>,
}

/// [`pack_job`] for the fuzz targets (`vmail_spool::fuzz`): the Date and
/// Message-ID from the clock when `stamp` is `None`.
pub(crate) fn pack(
    bytes: Vec<u8>,
    base: &Path,
    default_from: &str,
    limit: u64,
    stamp: Option<&Stamp>,
) -> Result<(Vec<u8>, Envelope, Vec<PathBuf>), DropError> {
    let stamp = stamp.copied().unwrap_or_else(Stamp::now);
    let names = LocalNames::default();
    let origin = Origin {
        default_from,
        names: &names,
        templates: None,
        fax_attach_as: vmail_core::AttachAs::Tiff,
    };
    pack_job(bytes, base, &origin, limit, &stamp).map(|p| (p.message, p.envelope, p.consumed))
}

/// Parses the bytes of a job file and packs its message; the files it names
/// are read from `base`. Returns the message, the envelope and those files.
fn pack_job(
    bytes: Vec<u8>,
    base: &Path,
    origin: &Origin<'_>,
    limit: u64,
    stamp: &Stamp,
) -> Result<Packed, DropError> {
    if bytes.contains(&0) {
        return Err(DropError::JobNotText);
    }
    let text = String::from_utf8(bytes).map_err(|_| DropError::JobNotUtf8)?;
    let job = JobFile::parse(&text)?;
    build(&job, base, origin, limit, stamp)
}

/// A job file's list key as mailboxes (`None` when the key is absent).
fn mailboxes(key: &'static str, values: &[String]) -> Result<Option<Mailboxes>, DropError> {
    address::mailboxes(values).map_err(|_| DropError::BadList {
        key,
        value: values.join(", "),
    })
}

/// The parsed addresses of a job file.
struct Addresses {
    from: Mailbox,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    envelope: Envelope,
    rewrites: Vec<Rewrite>,
}

/// A list key's values with its names without a domain (`to = root,
/// ann@x`) replaced as `names` says; the rewrites are added to `done`.
fn placed(values: &[String], names: &LocalNames, done: &mut Vec<Rewrite>) -> Vec<String> {
    values
        .iter()
        .map(|value| {
            value
                .split(',')
                .map(|item| match names.recipient(item) {
                    Some(rewrite) => {
                        let address = rewrite.address.clone();
                        done.push(rewrite);
                        address
                    }
                    None => item.trim().to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

fn addresses(job: &JobFile, origin: &Origin<'_>) -> Result<Addresses, DropError> {
    let default_from = origin.default_from;
    let mut rewrites = Vec::new();
    let mut header_from = job
        .from
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or(default_from)
        .to_string();
    if header_from.is_empty() {
        return Err(DropError::NoSender);
    }
    if let Some(rewrite) = origin.names.sender(&header_from) {
        header_from = rewrite.address.clone();
        rewrites.push(rewrite);
    }
    let from = address::mailbox(&header_from).map_err(|_| DropError::BadFrom {
        value: header_from.clone(),
    })?;
    let list = |m: Option<Mailboxes>| m.map(|l| l.into_iter().collect()).unwrap_or_default();
    let to: Vec<Mailbox> = list(mailboxes(
        "to",
        &placed(&job.to, origin.names, &mut rewrites),
    )?);
    let cc: Vec<Mailbox> = list(mailboxes(
        "cc",
        &placed(&job.cc, origin.names, &mut rewrites),
    )?);
    let bcc: Vec<Mailbox> = list(mailboxes(
        "bcc",
        &placed(&job.bcc, origin.names, &mut rewrites),
    )?);
    let recipients: Vec<String> = [&to, &cc, &bcc]
        .into_iter()
        .flatten()
        .map(|mbox| mbox.email.to_string())
        .collect();
    if recipients.is_empty() {
        return Err(DropError::NoRecipients);
    }
    let sender = match default_from {
        "" => from.email.to_string(),
        configured => configured.to_string(),
    };
    let mut unique = Vec::with_capacity(recipients.len());
    for rcpt in recipients {
        address::push_unique(&mut unique, rcpt);
    }
    Ok(Addresses {
        from,
        to,
        cc,
        envelope: Envelope::new(sender, unique),
        rewrites,
    })
}

/// Builds the message; returns it, the envelope and the files it consumed.
/// Bcc recipients are in the envelope only, never in a header. `stamp`
/// (the drop file's time and identity) gives the Date and the Message-ID,
/// so a job queued twice across a crash is the same message.
fn build(
    job: &JobFile,
    base: &Path,
    origin: &Origin<'_>,
    limit: u64,
    stamp: &Stamp,
) -> Result<Packed, DropError> {
    let addresses = addresses(job, origin)?;
    let (subject, text, mut consumed) = job.subject_and_text(base, origin.templates, limit)?;
    let (mut attachments, files) = attachments(job, base, limit)?;
    consumed.extend(files);
    let faxes = match job.attach_as.unwrap_or(origin.fax_attach_as) {
        vmail_core::AttachAs::Pdf => vmail_message::fax::attach_faxes_as_pdf(&mut attachments),
        vmail_core::AttachAs::Tiff => Vec::new(),
    };
    let text = vmail_message::fax::with_body_lines(text, &faxes);
    let draft = Draft {
        from: addresses.from,
        to: addresses.to,
        cc: addresses.cc,
        subject,
        text,
        attachments,
        stamp: *stamp,
    };
    let message = mime::build(&draft).map_err(|err| match err {
        MimeError::BadType { name, .. } => DropError::NoMimeType { name },
        other => DropError::Pack(other),
    })?;
    Ok(Packed {
        message,
        envelope: Envelope {
            dsn: job.dsn.clone(),
            ..addresses.envelope
        },
        consumed,
        rewrites: addresses.rewrites,
        faxes: faxes.iter().map(|f| f.log_line()).collect(),
    })
}

fn body_text(job: &JobFile, base: &Path, limit: u64) -> Result<(String, Vec<PathBuf>), DropError> {
    let mut body = job.body.join("\n");
    let mut consumed = Vec::new();
    if let Some(name) = &job.body_file {
        let (path, bytes) = read_beside(base, name, "body-file", limit)?;
        let text =
            String::from_utf8(bytes).map_err(|_| DropError::BodyNotUtf8 { name: name.clone() })?;
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&text);
        consumed.push(path);
    }
    if !body.ends_with('\n') {
        body.push('\n');
    }
    Ok((body, consumed))
}

fn attachments(
    job: &JobFile,
    base: &Path,
    limit: u64,
) -> Result<(Vec<Attachment>, Vec<PathBuf>), DropError> {
    let mut parts = Vec::new();
    let mut files = Vec::new();
    let mut total = 0u64;
    for name in &job.attach {
        let (path, bytes) = read_beside(base, name, "attach", limit.saturating_sub(total))?;
        total += bytes.len() as u64;
        parts.push(Attachment::from_path(&path, bytes));
        files.push(path);
    }
    Ok((parts, files))
}

/// Reads a file named in a job file: relative to the job file, inside its
/// folder (no absolute path, no `..`), no symbolic link on the way.
fn read_beside(
    base: &Path,
    name: &str,
    key: &'static str,
    limit: u64,
) -> Result<(PathBuf, Vec<u8>), DropError> {
    let named = |why: NamedFileError| DropError::Named {
        key,
        name: name.to_string(),
        why,
    };
    let relative = Path::new(name);
    if relative.is_absolute() {
        return Err(named(NamedFileError::Absolute));
    }
    let mut path = base.to_path_buf();
    for component in relative.components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => return Err(named(NamedFileError::LeavesTheFolder)),
        }
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|err| named(NamedFileError::Unreadable(err)))?;
        if meta.file_type().is_symlink() {
            return Err(named(NamedFileError::SymbolicLink));
        }
    }
    // The checks above give the clear reasons; this open is the guarantee:
    // a folder swapped for a link since then is refused by the kernel.
    let (mut file, meta) =
        open_beneath(base, relative).map_err(|why| named(NamedFileError::Open(why)))?;
    if meta.len() > limit {
        return Err(named(NamedFileError::TooLarge { limit }));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|err| named(NamedFileError::Unreadable(err)))?;
    Ok((path, bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lists_repeat_and_comments_are_skipped() {
        let job = JobFile::parse(
            "; comment\n[job]\nTo = a@x\nto = b@x, c@x\nattach = p/1.pdf, p/2.png\nattach=p/3.txt\nbody=one\nbody = two\n",
        )
        .unwrap();
        assert_eq!(job.to, vec!["a@x", "b@x, c@x"]);
        assert_eq!(job.attach, vec!["p/1.pdf", "p/2.png", "p/3.txt"]);
        assert_eq!(job.body, vec!["one", "two"]);
    }

    #[test]
    fn a_job_for_bcc_recipients_only_is_sent_to_them_and_names_no_one() {
        let (message, envelope, _) = pack(
            b"bcc = only@example.org, also@example.org\nbody = x\n".to_vec(),
            Path::new("/nonexistent"),
            "fax@example.com",
            1 << 20,
            None,
        )
        .unwrap();
        assert_eq!(
            envelope.recipients,
            ["only@example.org", "also@example.org"]
        );
        let text = String::from_utf8(message).unwrap();
        let header = &text[..text.find("\r\n\r\n").unwrap()];
        for field in ["\nTo:", "\nCc:", "\nBcc:", "example.org"] {
            assert!(!header.contains(field), "{field} in {header}");
        }
    }

    #[test]
    fn notify_and_ret_are_the_envelope_s_dsn_request_and_utf8_addresses_are_kept() {
        let (_, envelope, _) = pack(
            "to = Jörg <jörg@example.de>, 用户@例子.广告\nnotify = success, failure\nret = headers\nbody = x\n"
                .as_bytes()
                .to_vec(),
            Path::new("/nonexistent"),
            "fax@example.com",
            1 << 20,
            None,
        )
        .unwrap();
        assert_eq!(envelope.recipients, ["jörg@example.de", "用户@例子.广告"]);
        assert_eq!(
            envelope.dsn.notify.map(|n| n.to_string()).as_deref(),
            Some("SUCCESS,FAILURE")
        );
        assert_eq!(envelope.dsn.ret, Some(vmail_core::DsnReturn::Headers));
    }

    #[test]
    fn what_is_wrong_with_a_job_file_names_the_line_or_the_key() {
        let err = |text: &str| {
            pack(
                text.as_bytes().to_vec(),
                Path::new("/nonexistent"),
                "f@x.org",
                1 << 20,
                None,
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(err("[job]\nto a@x\n"), "line 2 is not `key = value`");
        assert_eq!(
            err("Colour = red\n"),
            "line 1: unknown key `colour` (known: to, cc, bcc, from, subject, body, body-file, attach, attach-as, template, notify, ret)"
        );
        assert_eq!(
            err("to = a@x.org\nnotify = always\n"),
            "line 2: `notify`: \"always\" is not a DSN notify list: give `never`, or one or more \
             of `success`, `failure`, `delay` separated by commas"
        );
        assert_eq!(
            err("to = a@x.org\nattach-as = png\n"),
            "line 2: `attach-as`: \"png\" is not a way to attach a fax (pdf, tiff)"
        );
        assert_eq!(
            err("to = a@x.org\nRET = body\n"),
            "line 2: `ret`: \"body\" is not a DSN return: give `full` or `headers`"
        );
        assert_eq!(
            err("subject = s\n"),
            "has no recipients: `to`, `cc` and `bcc` are all empty"
        );
        assert_eq!(
            err("to = a@x, <\n"),
            "`to = a@x, <` is not a list of addresses"
        );
        assert_eq!(
            err("to = a@x.org\nattach = ../etc/passwd\n"),
            "attach `../etc/passwd` leaves the drop folder (`..` is refused)"
        );
        assert_eq!(
            err("to = a@x.org\nbody-file = /etc/passwd\n"),
            "body-file `/etc/passwd` is an absolute path; name a file beside the job file"
        );
    }
}
