//! A message's bytes made ready for DATA on this server: looked at for
//! 8-bit bytes before `MAIL FROM` (for `BODY=8BITMIME`, RFC 6152), and
//! made 7-bit (vmail-message's downgrade) when the server does not offer
//! 8BITMIME, so that no 8-bit byte ever reaches a server that did not ask
//! for them. A queued message of up to 64 KiB is read whole, once; a
//! larger one stays streamed: read once to look and once to send (both
//! from the page cache). Only a message that must be re-encoded, or a
//! reader that cannot be read twice going to a server without 8BITMIME,
//! is held whole whatever its size.

use crate::error::SmtpError;
use crate::message::Body;
use crate::params::BodyType;
use crate::reply::Extensions;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use vmail_message::downgrade::{self, Downgrade};

/// The reader DATA streams from.
pub(crate) type Reader = Box<dyn AsyncRead + Send + Unpin>;

/// A body ready to send.
pub(crate) struct Prepared {
    pub reader: Reader,
    pub size: Option<u64>,
    pub body_type: BodyType,
    /// What was re-encoded, when the message was made 7-bit.
    pub downgraded: Option<Downgrade>,
}

/// How much is read at a time while looking for 8-bit bytes.
const SCAN_CHUNK: usize = 64 * 1024;

/// Opens `body`, learns whether it is 8-bit, and re-encodes it when the
/// server has no 8BITMIME.
pub(crate) async fn prepare(body: Body, ext: &Extensions) -> Result<Prepared, SmtpError> {
    let eight_bit_ok = ext.eight_bit_mime;
    match body {
        Body::Bytes(bytes) => Ok(from_bytes(bytes, eight_bit_ok)),
        Body::File(path) => {
            let what = || path.display().to_string();
            let mut file = tokio::fs::File::open(&path)
                .await
                .map_err(|source| body_error(what(), source))?;
            let size = file.metadata().await.ok().map(|m| m.len());
            let eight_bit = scan_async(&mut file)
                .await
                .map_err(|source| body_error(what(), source))?;
            file.seek(SeekFrom::Start(0))
                .await
                .map_err(|source| body_error(what(), source))?;
            finish(Box::new(file), size, eight_bit, eight_bit_ok, what()).await
        }
        Body::Part { file, offset, len } => {
            let looked_at = Arc::clone(&file);
            let looked = tokio::task::spawn_blocking(move || look_at_part(&looked_at, offset, len))
                .await
                .map_err(|join| {
                    body_error("the queued message".into(), std::io::Error::other(join))
                })?
                .map_err(|source| body_error("the queued message".into(), source))?;
            match looked {
                Looked::Whole(bytes) => Ok(from_bytes(bytes, eight_bit_ok)),
                Looked::Streamed { eight_bit } => {
                    let reader = open_part(&file, offset)
                        .map_err(|source| body_error("the queued message".into(), source))?;
                    let reader = Box::new(tokio::fs::File::from_std(reader).take(len));
                    finish(reader, Some(len), eight_bit, eight_bit_ok, "reader".into()).await
                }
            }
        }
        // Not known, and not to be read twice: declared 8-bit where that
        // is allowed (harmless for a 7-bit message), else read whole.
        Body::Reader { reader, size } => {
            finish(reader, size, true, eight_bit_ok, "reader".into()).await
        }
    }
}

fn body_error(what: String, source: std::io::Error) -> SmtpError {
    SmtpError::Body { what, source }
}

fn from_bytes(bytes: Vec<u8>, eight_bit_ok: bool) -> Prepared {
    let eight_bit = downgrade::has_8bit(&bytes);
    if eight_bit && !eight_bit_ok {
        let mut down = downgrade::to_7bit(&bytes);
        let message = std::mem::take(&mut down.message);
        return Prepared {
            size: Some(message.len() as u64),
            reader: Box::new(std::io::Cursor::new(message)),
            body_type: BodyType::SevenBit,
            downgraded: Some(down),
        };
    }
    Prepared {
        size: Some(bytes.len() as u64),
        reader: Box::new(std::io::Cursor::new(bytes)),
        body_type: if eight_bit {
            BodyType::EightBit
        } else {
            BodyType::SevenBit
        },
        downgraded: None,
    }
}

/// A streamed body: as it is, or read whole and made 7-bit.
async fn finish(
    mut reader: Reader,
    size: Option<u64>,
    eight_bit: bool,
    eight_bit_ok: bool,
    what: String,
) -> Result<Prepared, SmtpError> {
    if !eight_bit || eight_bit_ok {
        return Ok(Prepared {
            reader,
            size,
            body_type: if eight_bit {
                BodyType::EightBit
            } else {
                BodyType::SevenBit
            },
            downgraded: None,
        });
    }
    let mut bytes = Vec::with_capacity(size.unwrap_or(0).min(64 << 20) as usize);
    reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|source| body_error(what, source))?;
    Ok(from_bytes(bytes, false))
}

async fn scan_async(file: &mut tokio::fs::File) -> std::io::Result<bool> {
    let mut chunk = vec![0u8; SCAN_CHUNK];
    loop {
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        if downgrade::has_8bit(&chunk[..n]) {
            return Ok(true);
        }
    }
}

/// A part no larger than this is read whole by the one blocking step that
/// looks at it: for the usual notice of a few KB that is one trip to the
/// blocking pool and one read, where scanning and then streaming it took
/// three trips and two reads. It is also what the scan would have held in
/// memory at once. A larger part is scanned, then streamed, so a 1 MB job
/// is never whole in memory.
const READ_WHOLE_UP_TO: u64 = SCAN_CHUNK as u64;

/// What looking at a part gave: the part itself when it is small, else
/// whether it is 8-bit.
enum Looked {
    Whole(Vec<u8>),
    Streamed { eight_bit: bool },
}

fn look_at_part(file: &File, offset: u64, len: u64) -> std::io::Result<Looked> {
    if len <= READ_WHOLE_UP_TO {
        return read_part(file, offset, len).map(Looked::Whole);
    }
    scan_part(file, offset, len).map(|eight_bit| Looked::Streamed { eight_bit })
}

/// Reads `len` bytes of `file` from `offset` (fewer when the file is
/// shorter, as a streamed part would give), without moving anyone's read
/// position.
fn read_part(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut bytes = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
    let mut at = 0;
    while at < bytes.len() {
        match file.read_at(&mut bytes[at..], offset + at as u64) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    bytes.truncate(at);
    Ok(bytes)
}

/// Looks at `len` bytes of `file` from `offset` for an 8-bit byte, a chunk
/// at a time, without moving anyone's read position.
fn scan_part(file: &File, offset: u64, len: u64) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut chunk = vec![0u8; SCAN_CHUNK];
    let mut at = 0u64;
    while at < len {
        let want = (len - at).min(SCAN_CHUNK as u64) as usize;
        let n = match file.read_at(&mut chunk[..want], offset + at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if downgrade::has_8bit(&chunk[..n]) {
            return Ok(true);
        }
        at += n as u64;
    }
    Ok(false)
}

/// The part on its own file description (no shared read position).
fn open_part(file: &File, offset: u64) -> std::io::Result<File> {
    let mut own = file.try_clone()?;
    own.seek(SeekFrom::Start(offset))?;
    Ok(own)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ext(offered: &str) -> Extensions {
        let raw = format!("250-x\r\n250 {offered}\r\n");
        Extensions::parse(raw.as_bytes()).unwrap()
    }

    async fn sent(prepared: Prepared) -> Vec<u8> {
        let mut out = Vec::new();
        let mut reader = prepared.reader;
        reader.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn an_8bit_body_is_declared_where_offered_and_re_encoded_where_not() {
        let message = "Subject: Grüße\n\nÄrger\n".as_bytes().to_vec();
        let offered = prepare(Body::Bytes(message.clone()), &ext("8BITMIME"))
            .await
            .unwrap();
        assert_eq!(offered.body_type, BodyType::EightBit);
        assert!(offered.downgraded.is_none());
        assert_eq!(sent(offered).await, message);
        let not = prepare(Body::Bytes(message.clone()), &ext("SIZE"))
            .await
            .unwrap();
        assert_eq!(not.body_type, BodyType::SevenBit);
        assert_eq!(
            not.downgraded.as_ref().unwrap().summary(),
            "1 part(s) re-encoded as quoted-printable, 1 header field(s) written as RFC 2047 \
             encoded-words"
        );
        let size = not.size.unwrap();
        let bytes = sent(not).await;
        assert_eq!(bytes.len() as u64, size);
        assert!(!downgrade::has_8bit(&bytes));
    }

    /// A queue entry of `envelope`, then `message`, in a folder of its own.
    fn entry(name: &str, envelope: &[u8], message: &[u8]) -> (std::path::PathBuf, Arc<File>) {
        let dir = std::env::temp_dir().join(format!("vmail-8bit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("entry");
        std::fs::write(&path, [envelope, message].concat()).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        (dir, file)
    }

    #[tokio::test]
    async fn a_small_part_of_a_file_is_read_whole_and_ends_where_the_part_does() {
        let envelope = "Fenvelope ü\n\n".as_bytes();
        let (dir, file) = entry("small", envelope, b"Subject: x\n\nplain\n");
        let offset = envelope.len() as u64;
        let len = file.metadata().unwrap().len() - offset;
        assert_eq!(
            read_part(&file, offset, len).unwrap(),
            b"Subject: x\n\nplain\n"
        );
        // Never past the part, and no error for a file cut shorter.
        assert_eq!(read_part(&file, offset, 7).unwrap(), b"Subject");
        assert_eq!(
            read_part(&file, offset, len + 100).unwrap().len() as u64,
            len
        );
        let part = |len| Body::Part {
            file: file.clone(),
            offset,
            len,
        };
        let prepared = prepare(part(len), &ext("8BITMIME")).await.unwrap();
        assert_eq!(prepared.body_type, BodyType::SevenBit);
        assert_eq!(prepared.size, Some(len));
        assert_eq!(sent(prepared).await, b"Subject: x\n\nplain\n");
        // The envelope's 8-bit byte is not the message's.
        let not = prepare(part(len), &ext("SIZE")).await.unwrap();
        assert!(not.downgraded.is_none());
        let (whole_dir, _) = entry("whole", b"", "Subject: x\n\n\u{fc}\n".as_bytes());
        let whole = prepare(Body::File(whole_dir.join("entry")), &ext("SIZE"))
            .await
            .unwrap();
        assert!(whole.downgraded.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&whole_dir).unwrap();
    }

    #[tokio::test]
    async fn a_large_part_is_scanned_to_its_end_and_streamed() {
        // The only 8-bit byte is past the first scan chunk and past the
        // size read whole; the byte after the part is 8-bit too, and must
        // not count.
        let mut message = b"Subject: big\n\n".to_vec();
        while message.len() < READ_WHOLE_UP_TO as usize + 1000 {
            message.extend_from_slice(&[b'y'; 75]);
            message.push(b'\n');
        }
        let plain = message.clone();
        message.extend_from_slice("\u{e9}\n".as_bytes());
        let mut stored = message.clone();
        stored.extend_from_slice("\u{fc}".as_bytes());
        let (dir, file) = entry("large", b"Fenvelope\n\n", &stored);
        let offset = b"Fenvelope\n\n".len() as u64;
        let part = |len: usize| Body::Part {
            file: file.clone(),
            offset,
            len: len as u64,
        };
        let eight = prepare(part(message.len()), &ext("8BITMIME"))
            .await
            .unwrap();
        assert_eq!(eight.body_type, BodyType::EightBit);
        assert_eq!(sent(eight).await, message);
        let seven = prepare(part(plain.len()), &ext("8BITMIME")).await.unwrap();
        assert_eq!(seven.body_type, BodyType::SevenBit);
        assert_eq!(sent(seven).await, plain);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
