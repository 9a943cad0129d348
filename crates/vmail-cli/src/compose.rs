//! Reading vfx's files: every file read whole and checked against the size
//! limit before anything is queued. The message itself (text part, one
//! attachment per file, typed from its name) is built by `vmail-message`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use vmail_message::Attachment;

/// A file to attach, read whole.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: PathBuf,
    /// Named after the last component of the path, typed from its name.
    pub attachment: Attachment,
}

/// Why a file cannot be sent. The texts name the file.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The I/O error is in the text, in words, and deliberately not a
    /// `source`: `vfx` prints the chain, which would repeat it with
    /// Rust's `(os error 2)`.
    #[error("cannot read {}: {}", path.display(), why(io))]
    Unreadable { path: PathBuf, io: std::io::Error },
    #[error("{} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error(
        "{} is {size} bytes: the job would be over [VMAIL] max-message-size ({limit} bytes)",
        path.display()
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
}

/// Reads every file, checking them all against `limit` (the sum of their
/// sizes) before anything is queued. Errors name the file.
pub fn read_documents(paths: &[PathBuf], limit: u64) -> Result<Vec<Document>, DocumentError> {
    let mut documents = Vec::with_capacity(paths.len());
    let mut total = 0u64;
    for path in paths {
        let document = read_document(path, limit.saturating_sub(total), limit)?;
        total += document.attachment.bytes.len() as u64;
        documents.push(document);
    }
    Ok(documents)
}

fn read_document(path: &Path, room: u64, limit: u64) -> Result<Document, DocumentError> {
    let unreadable = |io| DocumentError::Unreadable {
        path: path.to_path_buf(),
        io,
    };
    let mut file = File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(DocumentError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > room {
        return Err(DocumentError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(unreadable)?;
    Ok(Document {
        path: path.to_path_buf(),
        attachment: Attachment::from_path(path, bytes),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a.pdf", "b.tif", "c.png", "d.jpg", "e.txt", "f.fax"];
        let paths: Vec<PathBuf> = names.iter().map(|n| dir.path().join(n)).collect();
        for path in &paths {
            // Not text: a file of an unknown name is typed from its bytes.
            std::fs::write(path, b"\0").unwrap();
        }
        let docs = read_documents(&paths, 100).unwrap();
        let mimes: Vec<&str> = docs.iter().map(|d| d.attachment.mime.as_str()).collect();
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
        let err = read_documents(&paths, 3).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "d.jpg is 1 bytes: the job would be over [VMAIL] max-message-size (3 bytes)"
            ),
            "{err}"
        );
        let err = read_documents(&[dir.path().join("none.pdf")], 3).unwrap_err();
        assert!(err.to_string().ends_with("none.pdf: no such file"), "{err}");
    }
}
