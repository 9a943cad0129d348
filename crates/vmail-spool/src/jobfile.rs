//! `*.job` drops: a small ini file naming recipients, subject, body and
//! attachments, packed into a MIME message with lettre at pickup. The format
//! is documented in the crate docs.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use chrono::Utc;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Mailboxes, MultiPart, SinglePart};
use vmail_core::Envelope;

use crate::drops::{DropMark, Prepared, open_beneath};

/// The keys a job file may use.
const KEYS: &str = "to, cc, bcc, from, subject, body, body-file, attach";

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
}

impl JobFile {
    /// Parses the ini text; errors name the line.
    pub fn parse(text: &str) -> Result<JobFile, String> {
        let mut job = JobFile::default();
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.eq_ignore_ascii_case("[job]") {
                continue;
            }
            let n = number + 1;
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {n} is not `key = value`"))?;
            job.set(key.trim(), value.trim())
                .map_err(|why| format!("line {n}: {why}"))?;
        }
        Ok(job)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let list = |v: &str| -> Vec<String> { vec![v.to_string()] };
        match key.to_ascii_lowercase().as_str() {
            "to" => self.to.extend(list(value)),
            "cc" => self.cc.extend(list(value)),
            "bcc" => self.bcc.extend(list(value)),
            "from" => self.from = Some(value.to_string()),
            "subject" => self.subject = Some(value.to_string()),
            "body" => self.body.push(value.to_string()),
            "body-file" => self.body_file = Some(value.to_string()),
            "attach" => self.attach.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            ),
            other => return Err(format!("unknown key `{other}` (known: {KEYS})")),
        }
        Ok(())
    }
}

/// Reads the job file at `path`, packs the message, returns it to queue.
pub(crate) fn prepare(
    mut file: File,
    path: &Path,
    default_from: &str,
    limit: u64,
    mark: &DropMark,
) -> Result<Prepared, String> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|err| format!("cannot be read: {err}"))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let (message, envelope, consumed) = pack(bytes, base, default_from, limit, Some(mark))?;
    Ok(Prepared {
        envelope,
        message: Box::new(Cursor::new(message)),
        consumed,
    })
}

/// Parses the bytes of a job file and packs its message; the files it names
/// are read from `base`. Returns the message, the envelope and those files.
pub(crate) fn pack(
    bytes: Vec<u8>,
    base: &Path,
    default_from: &str,
    limit: u64,
    mark: Option<&DropMark>,
) -> Result<(Vec<u8>, Envelope, Vec<PathBuf>), String> {
    if bytes.contains(&0) {
        return Err("contains NUL bytes: it is not a text job file".to_string());
    }
    let text = String::from_utf8(bytes).map_err(|_| "is not a UTF-8 text job file".to_string())?;
    let job = JobFile::parse(&text)?;
    build(&job, base, default_from, limit, mark)
}

fn mailboxes(field: &str, values: &[String]) -> Result<Option<Mailboxes>, String> {
    if values.is_empty() {
        return Ok(None);
    }
    let joined = values.join(", ");
    Mailboxes::from_str(&joined)
        .map(Some)
        .map_err(|_| format!("`{field} = {joined}` is not a list of addresses"))
}

/// The parsed addresses of a job file.
struct Addresses {
    from: Mailbox,
    to: Option<Mailboxes>,
    cc: Option<Mailboxes>,
    envelope: Envelope,
}

fn addresses(job: &JobFile, default_from: &str) -> Result<Addresses, String> {
    let header_from = job
        .from
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or(default_from);
    if header_from.is_empty() {
        return Err("has no sender: no `from` key, and [VMAIL] from is not set".to_string());
    }
    let from = Mailbox::from_str(header_from)
        .map_err(|_| format!("`from = {header_from}` is not an address"))?;
    let to = mailboxes("to", &job.to)?;
    let cc = mailboxes("cc", &job.cc)?;
    let bcc = mailboxes("bcc", &job.bcc)?;
    let recipients: Vec<String> = [&to, &cc, &bcc]
        .into_iter()
        .flatten()
        .flat_map(|list| list.iter().map(|mbox| mbox.email.to_string()))
        .collect();
    if recipients.is_empty() {
        return Err("has no recipients: `to`, `cc` and `bcc` are all empty".to_string());
    }
    let sender = match default_from {
        "" => from.email.to_string(),
        configured => configured.to_string(),
    };
    Ok(Addresses {
        from,
        to,
        cc,
        envelope: Envelope::new(sender, recipients),
    })
}

/// Builds the message; returns it, the envelope and the files it consumed.
/// Bcc recipients are in the envelope only, never in a header.
/// `mark` (the drop file's time and identity) gives the Date and the
/// Message-ID, so a job queued twice across a crash is the same message.
fn build(
    job: &JobFile,
    base: &Path,
    default_from: &str,
    limit: u64,
    mark: Option<&DropMark>,
) -> Result<(Vec<u8>, Envelope, Vec<PathBuf>), String> {
    let addresses = addresses(job, default_from)?;
    let domain = addresses.from.email.domain();
    let (date, id) = match mark {
        Some(mark) => (mark.written.into(), mark.message_id(domain)),
        None => (std::time::SystemTime::now(), message_id(domain)),
    };
    let mut builder = Message::builder()
        .from(addresses.from.clone())
        .date(date)
        .message_id(Some(id));
    for mbox in addresses.to.iter().flat_map(|l| l.iter()) {
        builder = builder.to(mbox.clone());
    }
    for mbox in addresses.cc.iter().flat_map(|l| l.iter()) {
        builder = builder.cc(mbox.clone());
    }
    if let Some(subject) = &job.subject {
        builder = builder.subject(subject.clone());
    }
    let (body, mut consumed) = body_text(job, base, limit)?;
    let (parts, files) = attachments(job, base, limit)?;
    consumed.extend(files);
    let message = if parts.is_empty() {
        builder.singlepart(SinglePart::plain(body))
    } else {
        let text = MultiPart::mixed().singlepart(SinglePart::plain(body));
        builder.multipart(parts.into_iter().fold(text, |m, p| m.singlepart(p)))
    }
    .map_err(|err| format!("cannot be packed into a message: {err}"))?;
    Ok((message.formatted(), addresses.envelope, consumed))
}

fn message_id(domain: &str) -> String {
    let stamp = Utc::now().format("%Y%m%d%H%M%S");
    format!(
        "<{stamp}.{:016x}@{domain}>",
        vmail_core::unique::random_u64()
    )
}

fn body_text(job: &JobFile, base: &Path, limit: u64) -> Result<(String, Vec<PathBuf>), String> {
    let mut body = job.body.join("\n");
    let mut consumed = Vec::new();
    if let Some(name) = &job.body_file {
        let (path, bytes) = read_beside(base, name, "body-file", limit)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("body-file `{name}` is not UTF-8 text"))?;
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
) -> Result<(Vec<SinglePart>, Vec<PathBuf>), String> {
    let mut parts = Vec::new();
    let mut files = Vec::new();
    let mut total = 0u64;
    for name in &job.attach {
        let (path, bytes) = read_beside(base, name, "attach", limit.saturating_sub(total))?;
        total += bytes.len() as u64;
        let mime = mime_guess::from_path(&path).first_or_octet_stream();
        let content_type = ContentType::parse(mime.essence_str())
            .map_err(|_| format!("attach `{name}`: no MIME type for it"))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.clone());
        parts.push(Attachment::new(file_name).body(bytes, content_type));
        files.push(path);
    }
    Ok((parts, files))
}

/// Reads a file named in a job file: relative to the job file, inside its
/// folder (no absolute path, no `..`), no symbolic link on the way.
fn read_beside(
    base: &Path,
    name: &str,
    key: &str,
    limit: u64,
) -> Result<(PathBuf, Vec<u8>), String> {
    let relative = Path::new(name);
    if relative.is_absolute() {
        return Err(format!(
            "{key} `{name}` is an absolute path; name a file beside the job file"
        ));
    }
    let mut path = base.to_path_buf();
    for component in relative.components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "{key} `{name}` leaves the drop folder (`..` is refused)"
                ));
            }
        }
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|err| format!("{key} `{name}` cannot be read: {err}"))?;
        if meta.file_type().is_symlink() {
            return Err(format!(
                "{key} `{name}` is a symbolic link; vmail does not follow links"
            ));
        }
    }
    // The checks above give the clear reasons; this open is the guarantee:
    // a folder swapped for a link since then is refused by the kernel.
    let (mut file, meta) =
        open_beneath(base, relative).map_err(|why| format!("{key} `{name}` {why}"))?;
    if meta.len() > limit {
        return Err(format!(
            "{key} `{name}` makes the job larger than the limit of {limit} bytes"
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|err| format!("{key} `{name}` cannot be read: {err}"))?;
    Ok((path, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_types_follow_the_file_name() {
        let cases = [
            ("a.pdf", "application/pdf"),
            ("a.tif", "image/tiff"),
            ("a.TIFF", "image/tiff"),
            ("a.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.jpeg", "image/jpeg"),
            ("a.txt", "text/plain"),
            ("a.fax-g3", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            let mime = mime_guess::from_path(name).first_or_octet_stream();
            assert_eq!(mime.essence_str(), expected, "{name}");
        }
    }

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
}
