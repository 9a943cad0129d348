//! Building vfx's message with lettre: a text part (the cover page and/or
//! the note), then one attachment per file, typed from its name.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::Utc;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

/// A file to attach, read whole.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: PathBuf,
    /// The attachment's file name (the last component of the path).
    pub name: String,
    /// `application/pdf`, `image/tiff`, ... or `application/octet-stream`.
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// Reads every file, checking them all against `limit` (the sum of their
/// sizes) before anything is queued. Errors name the file.
pub fn read_documents(paths: &[PathBuf], limit: u64) -> Result<Vec<Document>, String> {
    let mut documents = Vec::with_capacity(paths.len());
    let mut total = 0u64;
    for path in paths {
        let document = read_document(path, limit.saturating_sub(total), limit)?;
        total += document.bytes.len() as u64;
        documents.push(document);
    }
    Ok(documents)
}

fn read_document(path: &Path, room: u64, limit: u64) -> Result<Document, String> {
    let shown = path.display();
    let mut file = File::open(path).map_err(|err| format!("cannot read {shown}: {}", why(&err)))?;
    let meta = file
        .metadata()
        .map_err(|err| format!("cannot read {shown}: {}", why(&err)))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    if meta.len() > room {
        return Err(format!(
            "{shown} is {} bytes: the job would be over [VMAIL] max-message-size ({limit} bytes)",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read {shown}: {}", why(&err)))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.to_string());
    let mime = mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_string();
    Ok(Document {
        path: path.to_path_buf(),
        name,
        mime,
        bytes,
    })
}

/// An I/O error in words, without Rust's `(os error 2)`.
fn why(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => err.to_string(),
    }
}

/// Everything the message says.
#[derive(Debug, Clone)]
pub struct Draft {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: String,
    /// The text part: the cover page and/or the note.
    pub text: String,
    pub documents: Vec<Document>,
}

/// The RFC 5322 message, with Date and Message-ID.
pub fn build(draft: &Draft) -> Result<Vec<u8>, String> {
    let mut builder = Message::builder()
        .from(draft.from.clone())
        .subject(draft.subject.clone())
        .date_now()
        .message_id(Some(message_id(draft.from.email.domain())));
    for mbox in &draft.to {
        builder = builder.to(mbox.clone());
    }
    let mut text = draft.text.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let message = if draft.documents.is_empty() {
        builder.singlepart(SinglePart::plain(text))
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text));
        for doc in &draft.documents {
            let content_type = ContentType::parse(&doc.mime)
                .map_err(|_| format!("{}: no MIME type {}", doc.path.display(), doc.mime))?;
            parts = parts.singlepart(
                Attachment::new(doc.name.clone()).body(doc.bytes.clone(), content_type),
            );
        }
        builder.multipart(parts)
    }
    .map_err(|err| format!("cannot build the message: {err}"))?;
    Ok(message.formatted())
}

/// `<20261123204200.0123456789abcdef@domain>`
pub fn message_id(domain: &str) -> String {
    let stamp = Utc::now().format("%Y%m%d%H%M%S");
    format!(
        "<{stamp}.{:016x}@{domain}>",
        vmail_core::unique::random_u64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a.pdf", "b.tif", "c.png", "d.jpg", "e.txt", "f.fax"];
        let paths: Vec<PathBuf> = names.iter().map(|n| dir.path().join(n)).collect();
        for path in &paths {
            std::fs::write(path, b"x").unwrap();
        }
        let docs = read_documents(&paths, 100).unwrap();
        let mimes: Vec<&str> = docs.iter().map(|d| d.mime.as_str()).collect();
        assert_eq!(
            mimes,
            [
                "application/pdf",
                "image/tiff",
                "image/png",
                "image/jpeg",
                "text/plain",
                "application/octet-stream"
            ]
        );
        let err = read_documents(&paths, 3).unwrap_err();
        assert!(
            err.ends_with(
                "d.jpg is 1 bytes: the job would be over [VMAIL] max-message-size (3 bytes)"
            ),
            "{err}"
        );
    }
}
