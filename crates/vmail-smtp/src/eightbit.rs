//! A message's bytes made ready for DATA on this server: looked at for
//! 8-bit bytes before `MAIL FROM` (for `BODY=8BITMIME`, RFC 6152), and
//! made 7-bit (vmail-message's downgrade) when the server does not offer
//! 8BITMIME, so that no 8-bit byte ever reaches a server that did not ask
//! for them. The common case stays streamed: a file is read once to look
//! and once to send (both from the page cache); only a message that must
//! be re-encoded, or a reader that cannot be read twice going to a server
//! without 8BITMIME, is held whole.

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
            let scanned = Arc::clone(&file);
            let eight_bit = tokio::task::spawn_blocking(move || scan_part(&scanned, offset, len))
                .await
                .map_err(|join| {
                    body_error("the queued message".into(), std::io::Error::other(join))
                })?
                .map_err(|source| body_error("the queued message".into(), source))?;
            let reader = open_part(&file, offset)
                .map_err(|source| body_error("the queued message".into(), source))?;
            let reader = Box::new(tokio::fs::File::from_std(reader).take(len));
            finish(reader, Some(len), eight_bit, eight_bit_ok, "reader".into()).await
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

/// Looks at `len` bytes of `file` from `offset`, without moving anyone's
/// read position.
fn scan_part(file: &File, offset: u64, len: u64) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut chunk = vec![0u8; SCAN_CHUNK];
    let mut at = 0u64;
    while at < len {
        let want = (len - at).min(SCAN_CHUNK as u64) as usize;
        let n = file.read_at(&mut chunk[..want], offset + at)?;
        if n == 0 {
            break;
        }
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

/// Reads a whole part (tests).
#[cfg(test)]
fn read_part(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    open_part(file, offset)?.take(len).read_to_end(&mut out)?;
    Ok(out)
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

    #[tokio::test]
    async fn a_part_of_a_file_is_scanned_in_place_and_streamed_whole() {
        let dir = std::env::temp_dir().join(format!("vmail-8bit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("entry");
        std::fs::write(&path, "Fenvelope ü\n\nSubject: x\n\nplain\n").unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let offset = "Fenvelope ü\n\n".len() as u64;
        let len = std::fs::metadata(&path).unwrap().len() - offset;
        assert_eq!(
            read_part(&file, offset, len).unwrap(),
            b"Subject: x\n\nplain\n"
        );
        let prepared = prepare(
            Body::Part {
                file: file.clone(),
                offset,
                len,
            },
            &ext("8BITMIME"),
        )
        .await
        .unwrap();
        assert_eq!(prepared.body_type, BodyType::SevenBit);
        assert_eq!(sent(prepared).await, b"Subject: x\n\nplain\n");
        let whole = prepare(Body::File(path.clone()), &ext("SIZE"))
            .await
            .unwrap();
        assert!(whole.downgraded.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
