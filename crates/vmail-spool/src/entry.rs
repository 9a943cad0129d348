//! The queue's message file: the envelope, then the message, in one file so
//! that one fsync commits a job (as nullmailer does).
//!
//! ```text
//! Fsender@example.com          <- `F` + envelope sender (empty: the null sender <>)
//! N2026-12-01T02:40:41.123Z submitted by vfx (uid 1000) to ...
//!                              <- optional `N` + the job's first log line
//! DNOTIFY=SUCCESS,FAILURE RET=HDRS
//!                              <- optional `D` + the job's own DSN request
//! Ta@example.com               <- `T` + one recipient per line
//! Tb@example.com
//!                              <- a blank line ends the envelope
//! From: ...                    <- the RFC 5322 message, byte for byte
//! ```
//!
//! The `N` line is how a submitter's words reach the job's log without the
//! submitter creating the log file: vmaild writes it as the log's first line
//! at the first attempt. Creating a file is the dearest step of a submission
//! on a busy ext4 (the inode allocator skips recently freed inodes), and
//! the message file is the one that must exist before `vfx` returns.

use std::io::{self, BufRead, Write};

use vmail_core::Envelope;

/// The longest envelope header read back (thousands of recipients fit).
const MAX_ENVELOPE_BYTES: u64 = 4 << 20;
/// The longest address accepted (RFC 5321's path limit is 256).
const MAX_ADDRESS: usize = 998;

/// Why an envelope cannot be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("there are no recipients")]
    NoRecipients,
    #[error("a recipient is empty")]
    EmptyRecipient,
    /// `what` is `sender` or `recipient`.
    #[error("the {what} is longer than {limit} bytes")]
    TooLong { what: &'static str, limit: usize },
    #[error("the {what} {address:?} contains a space or a control character")]
    BadCharacter { what: &'static str, address: String },
}

/// Why a queue entry's envelope header cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("cannot read the envelope: {0}")]
    Io(#[source] io::Error),
    #[error("the envelope has no end (no blank line before the message)")]
    NoEnd,
    #[error("the envelope is not UTF-8")]
    NotUtf8,
    #[error("unexpected envelope line {line:?}")]
    UnexpectedLine { line: String },
    #[error("envelope line {line:?}: {source}")]
    BadDsn {
        line: String,
        #[source]
        source: vmail_core::DsnError,
    },
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// Checks that an envelope can be written and read back unchanged.
pub fn check(envelope: &Envelope) -> Result<(), EnvelopeError> {
    if envelope.recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    check_address("sender", &envelope.from)?;
    for rcpt in &envelope.recipients {
        if rcpt.is_empty() {
            return Err(EnvelopeError::EmptyRecipient);
        }
        check_address("recipient", rcpt)?;
    }
    Ok(())
}

fn check_address(what: &'static str, address: &str) -> Result<(), EnvelopeError> {
    if address.len() > MAX_ADDRESS {
        return Err(EnvelopeError::TooLong {
            what,
            limit: MAX_ADDRESS,
        });
    }
    if address.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(EnvelopeError::BadCharacter {
            what,
            address: address.to_string(),
        });
    }
    Ok(())
}

/// Writes the envelope header, with `note` (one line) when given; returns
/// its length in bytes.
pub fn write_envelope(
    out: &mut impl Write,
    envelope: &Envelope,
    note: Option<&str>,
) -> io::Result<u64> {
    let mut header = Vec::with_capacity(64 * (2 + envelope.recipients.len()));
    header.push(b'F');
    header.extend_from_slice(envelope.from.as_bytes());
    header.push(b'\n');
    if let Some(note) = note {
        header.push(b'N');
        header.extend_from_slice(one_line(note).as_bytes());
        header.push(b'\n');
    }
    if let Some(dsn) = dsn_line(&envelope.dsn) {
        header.push(b'D');
        header.extend_from_slice(dsn.as_bytes());
        header.push(b'\n');
    }
    for rcpt in &envelope.recipients {
        header.push(b'T');
        header.extend_from_slice(rcpt.as_bytes());
        header.push(b'\n');
    }
    header.push(b'\n');
    out.write_all(&header)?;
    Ok(header.len() as u64)
}

/// The `D` line's text: the parameters as they go on the wire (`ENVID`
/// as given, on one line); `None` for a job that asks nothing.
fn dsn_line(dsn: &vmail_core::Dsn) -> Option<String> {
    let mut words = Vec::new();
    if let Some(notify) = dsn.notify {
        words.push(format!("NOTIFY={notify}"));
    }
    if let Some(ret) = dsn.ret {
        words.push(format!("RET={ret}"));
    }
    if let Some(envid) = &dsn.envid {
        words.push(format!("ENVID={}", one_line(envid).replace(' ', "_")));
    }
    (!words.is_empty()).then(|| words.join(" "))
}

/// The `D` line read back.
fn parse_dsn(text: &str) -> Result<vmail_core::Dsn, HeaderError> {
    let bad = |source| HeaderError::BadDsn {
        line: format!("D{text}"),
        source,
    };
    let mut dsn = vmail_core::Dsn::default();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        match word.split_once('=') {
            Some(("NOTIFY", value)) => {
                dsn.notify = Some(vmail_core::DsnNotify::parse(value).map_err(bad)?);
            }
            Some(("RET", value)) => {
                dsn.ret = Some(vmail_core::DsnReturn::parse(value).map_err(bad)?)
            }
            Some(("ENVID", value)) => dsn.envid = Some(value.to_string()),
            _ => {
                return Err(HeaderError::UnexpectedLine {
                    line: format!("D{text}"),
                });
            }
        }
    }
    Ok(dsn)
}

/// A note as one line of text: line breaks and control characters become
/// spaces, so it can neither end the envelope nor forge another line.
pub fn one_line(note: &str) -> String {
    note.chars().map(printable).collect()
}

/// A control character (a newline, a tab, an escape) as a space.
pub(crate) fn printable(c: char) -> char {
    if c.is_control() { ' ' } else { c }
}

/// The envelope header of a queue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub envelope: Envelope,
    /// The submitter's first log line, if it left one.
    pub note: Option<String>,
    /// Bytes before the message.
    pub len: u64,
}

/// Reads the envelope header, leaving `input` at the first byte of the
/// message.
pub fn read_header(input: &mut impl BufRead) -> Result<Header, HeaderError> {
    let mut from = None;
    let mut note = None;
    let mut dsn = None;
    let mut recipients = Vec::new();
    let mut consumed = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = MAX_ENVELOPE_BYTES.saturating_sub(consumed) + 1;
        let n = io::Read::take(&mut *input, limit)
            .read_until(b'\n', &mut line)
            .map_err(HeaderError::Io)?;
        consumed += n as u64;
        if n == 0 || line.last() != Some(&b'\n') {
            return Err(HeaderError::NoEnd);
        }
        let text =
            std::str::from_utf8(&line[..line.len() - 1]).map_err(|_| HeaderError::NotUtf8)?;
        match (text.as_bytes().first(), from.is_some()) {
            (None, true) => break,
            (Some(b'F'), false) => from = Some(text[1..].to_string()),
            (Some(b'N'), true) if note.is_none() && recipients.is_empty() => {
                note = Some(text[1..].to_string());
            }
            (Some(b'D'), true) if dsn.is_none() && recipients.is_empty() => {
                dsn = Some(parse_dsn(&text[1..])?);
            }
            (Some(b'T'), true) => recipients.push(text[1..].to_string()),
            _ => {
                return Err(HeaderError::UnexpectedLine {
                    line: text.to_string(),
                });
            }
        }
    }
    let mut envelope = Envelope::new(from.unwrap_or_default(), recipients);
    envelope.dsn = dsn.unwrap_or_default();
    check(&envelope)?;
    Ok(Header {
        envelope,
        note,
        len: consumed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_round_trips_and_leaves_the_reader_at_the_message() {
        let envelope = Envelope::new("", vec!["a@example.com".into(), "b@example.org".into()]);
        let mut file = Vec::new();
        let len = write_envelope(&mut file, &envelope, None).unwrap();
        file.extend_from_slice(b"Subject: hi\r\n\r\nbody\r\n");
        let mut reader = &file[..];
        let back = read_header(&mut reader).unwrap();
        assert_eq!((back.envelope, back.note, back.len), (envelope, None, len));
        assert_eq!(reader, b"Subject: hi\r\n\r\nbody\r\n");
    }

    #[test]
    fn a_note_is_kept_on_one_line_and_cannot_end_the_envelope() {
        let envelope = Envelope::new("a@b", vec!["c@d".into()]);
        let mut file = Vec::new();
        let note = "submitted by vfx\n\nTevil@example.com\r";
        let len = write_envelope(&mut file, &envelope, Some(note)).unwrap();
        file.extend_from_slice(b"Subject: hi\n\nbody\n");
        let back = read_header(&mut &file[..]).unwrap();
        assert_eq!(back.envelope, envelope);
        assert_eq!(
            back.note.as_deref(),
            Some("submitted by vfx  Tevil@example.com ")
        );
        assert_eq!(back.len, len);
        let two_notes = b"Fa@b\nNone\nNtwo\nTc@d\n\n";
        assert_eq!(
            read_header(&mut &two_notes[..]).unwrap_err().to_string(),
            "unexpected envelope line \"Ntwo\""
        );
    }

    #[test]
    fn a_dsn_request_round_trips() {
        let mut envelope = Envelope::new("a@b", vec!["jörg@example.de".into()]);
        envelope.dsn.notify = Some(vmail_core::DsnNotify::parse("success,delay").unwrap());
        envelope.dsn.ret = Some(vmail_core::DsnReturn::Headers);
        let mut file = Vec::new();
        let len = write_envelope(&mut file, &envelope, Some("note")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&file),
            "Fa@b\nNnote\nDNOTIFY=SUCCESS,DELAY RET=HDRS\nTjörg@example.de\n\n"
        );
        let back = read_header(&mut &file[..]).unwrap();
        assert_eq!((back.envelope, back.len), (envelope, len));
        assert_eq!(
            read_header(&mut &b"Fa@b\nDNOTIFY=SOMETIMES\nTc@d\n\n"[..])
                .unwrap_err()
                .to_string(),
            "envelope line \"DNOTIFY=SOMETIMES\": \"SOMETIMES\" is not a DSN notify list: give \
             `never`, or one or more of `success`, `failure`, `delay` separated by commas"
        );
    }

    #[test]
    fn bad_envelopes_are_explained() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"Fa@b\nTc@d",
                "the envelope has no end (no blank line before the message)",
            ),
            (b"Fa@b\n\nmsg", "there are no recipients"),
            (b"Tc@d\n\n", "unexpected envelope line \"Tc@d\""),
            (
                b"Fa@b\nTc d\n\n",
                "the recipient \"c d\" contains a space or a control character",
            ),
        ];
        for (bytes, why) in cases {
            let mut reader = bytes;
            assert_eq!(read_header(&mut reader).unwrap_err().to_string(), why);
        }
    }
}
