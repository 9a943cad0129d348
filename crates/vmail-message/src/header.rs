//! The header section of a message: where it ends, which of its lines are
//! sent (all but Bcc and the Bcc's continuation lines), and its Subject.
//!
//! Two readers share one line classifier ([`BccFilter`]): the sendmail
//! shim's, lenient as sendmail is (the header is the leading run of fields;
//! what follows is body), and the `.eml` drop's, strict (a file that is not
//! a message goes to quarantine with the reason).

use std::io::{self, BufRead};

/// The most header read before the blank line (256 KiB).
pub const MAX_HEADER: usize = 256 * 1024;

/// `\r\n` when the text uses CRLF anywhere, else `\n`: added lines follow
/// the message's own line ends.
pub fn eol_of(text: &[u8]) -> &'static str {
    if text.windows(2).any(|w| w == b"\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// The name of a header field line: printable ASCII up to the colon
/// (RFC 5322 ftext), or `None` when the line is not a field.
pub fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    let valid = !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b));
    valid.then_some(name)
}

fn is_continuation(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

/// Whether the header has a field called `name` (any case).
pub fn has_field(header: &[u8], name: &str) -> bool {
    header
        .split(|&b| b == b'\n')
        .filter_map(field_name)
        .any(|n| n.eq_ignore_ascii_case(name.as_bytes()))
}

/// Follows a header line by line and says which lines are sent: a Bcc
/// field is never sent, and neither are its folded continuation lines
/// (a Bcc list is often folded, and a continuation left behind would
/// both leak the addresses and glue them onto the field before).
#[derive(Debug, Default)]
pub struct BccFilter {
    in_bcc: bool,
}

impl BccFilter {
    /// Whether `line` (a field or a continuation line) is kept.
    pub fn keep(&mut self, line: &[u8]) -> bool {
        if !is_continuation(line) {
            self.in_bcc = field_name(line).is_some_and(|name| name.eq_ignore_ascii_case(b"bcc"));
        }
        !self.in_bcc
    }
}

/// The header without its Bcc fields.
pub fn strip_bcc(header: &[u8]) -> Vec<u8> {
    let mut filter = BccFilter::default();
    let mut kept = Vec::with_capacity(header.len());
    for line in header.split_inclusive(|&b| b == b'\n') {
        if filter.keep(line) {
            kept.extend_from_slice(line);
        }
    }
    kept
}

/// A message split the way sendmail reads its standard input.
#[derive(Debug, PartialEq, Eq)]
pub struct Parts {
    /// Every header line, as written (for parsing To/Cc/Bcc).
    pub header: Vec<u8>,
    /// The header lines to queue: all but Bcc and its continuation lines.
    pub kept: Vec<u8>,
    /// The blank line and the body (a blank line is inserted when the text
    /// after the header did not start with one).
    pub body: Vec<u8>,
    /// `\r\n` when the message uses CRLF, else `\n`.
    pub eol: &'static str,
}

/// Splits `message` as sendmail does: the header is the leading run of
/// `Name: value` and continuation lines; what follows is the body. A
/// leading mbox separator (`From user date`) is dropped.
pub fn split(message: &[u8]) -> Parts {
    let eol = eol_of(message);
    let mut parts = Parts {
        header: Vec::new(),
        kept: Vec::new(),
        body: Vec::new(),
        eol,
    };
    let mut rest = skip_mbox_line(message);
    let mut filter = BccFilter::default();
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        let continuation = is_continuation(line) && !parts.header.is_empty();
        if !continuation && field_name(line).is_none() {
            break;
        }
        parts.header.extend_from_slice(line);
        if filter.keep(line) {
            parts.kept.extend_from_slice(line);
        }
        rest = &rest[end..];
    }
    if !(rest.starts_with(b"\n") || rest.starts_with(b"\r\n")) {
        parts.body.extend_from_slice(eol.as_bytes());
    }
    parts.body.extend_from_slice(rest);
    parts
}

/// A leading mbox separator (`From user date`, no colon after `From`) is
/// not part of the message: sendmail drops it too.
fn skip_mbox_line(message: &[u8]) -> &[u8] {
    if !message.starts_with(b"From ") {
        return message;
    }
    let end = message
        .iter()
        .position(|&b| b == b'\n')
        .map_or(message.len(), |i| i + 1);
    &message[end..]
}

/// Why a file is not a message. The texts complete a sentence that starts
/// with the file's name, as the quarantine reason does.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("cannot be read: {0}")]
    Unreadable(#[source] io::Error),
    #[error("has no header (it starts with a blank line)")]
    StartsBlank,
    #[error("has no end of header (no blank line) in its first {} KiB", MAX_HEADER / 1024)]
    TooLong,
    #[error("contains NUL bytes in line {line}: it is not a text message")]
    Nul { line: usize },
    #[error("starts with a continuation line, not a header field")]
    StartsWithContinuation,
    #[error(
        "has no header field in line {line} (expected `Name: value`); it is not an RFC 5322 message"
    )]
    NotAField { line: usize },
}

/// The header section of a whole message: all of it (to parse) and what is
/// sent (no Bcc), both ending with the blank line when the message has one.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub all: Vec<u8>,
    pub kept: Vec<u8>,
}

/// Reads the header of a complete message (an `.eml` drop) strictly: every
/// line up to the blank line must be a field or a continuation, at most
/// [`MAX_HEADER`] bytes. The reader is left at the start of the body.
pub fn read_header(reader: &mut impl BufRead) -> Result<Header, HeaderError> {
    let mut header = Header {
        all: Vec::new(),
        kept: Vec::new(),
    };
    let mut filter = BccFilter::default();
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        number += 1;
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(HeaderError::Unreadable)?;
        if n == 0 || line == b"\n" || line == b"\r\n" {
            if number == 1 {
                return Err(HeaderError::StartsBlank);
            }
            header.all.extend_from_slice(&line);
            header.kept.extend_from_slice(&line);
            return Ok(header);
        }
        if header.all.len() + line.len() > MAX_HEADER {
            return Err(HeaderError::TooLong);
        }
        check_line(&line, number)?;
        header.all.extend_from_slice(&line);
        if filter.keep(&line) {
            header.kept.extend_from_slice(&line);
        }
    }
}

fn check_line(line: &[u8], number: usize) -> Result<(), HeaderError> {
    if line.contains(&0) {
        return Err(HeaderError::Nul { line: number });
    }
    if is_continuation(line) {
        return match number {
            1 => Err(HeaderError::StartsWithContinuation),
            _ => Ok(()),
        };
    }
    match field_name(line) {
        Some(_) => Ok(()),
        None => Err(HeaderError::NotAField { line: number }),
    }
}

/// The header lines of a queued message, up to (not including) the blank
/// line, at most [`MAX_HEADER`] bytes: what the failure notice quotes and
/// where its Subject comes from. Reads nothing of the body.
pub fn read_header_block(reader: impl BufRead) -> io::Result<Vec<u8>> {
    let mut reader = reader.take(MAX_HEADER as u64);
    let mut header = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 || line == b"\n" || line == b"\r\n" {
            return Ok(header);
        }
        header.extend_from_slice(&line);
    }
}

/// The Subject of a header, unfolded and trimmed, as written (encoded
/// words stay encoded: the notice puts it back into a header).
pub fn subject(header: &[u8]) -> Option<String> {
    field(header, "subject")
}

/// The first field `name` of a header (case-insensitive), unfolded and
/// trimmed, as written.
pub fn field(header: &[u8], name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in header.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        match value.as_mut() {
            Some(text) if is_continuation(line.as_bytes()) => {
                text.push(' ');
                text.push_str(line.trim());
                continue;
            }
            Some(_) => break,
            None => {}
        }
        if field_name(line.as_bytes()).is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes())) {
            value = Some(line[name.len() + 1..].trim().to_string());
        }
    }
    value
}

/// The Subject of a queued message (the reader starts at its first header
/// line); reads the header only. Replaces the daemon worker's own reader.
pub fn read_subject(message: impl BufRead) -> Option<String> {
    read_header_block(message).ok().and_then(|h| subject(&h))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strict(text: &str) -> Result<Header, HeaderError> {
        read_header(&mut text.as_bytes())
    }

    #[test]
    fn sendmail_split_drops_bcc_and_adds_a_missing_blank_line() {
        let parts = split(b"To: a@x\nBcc: b@x,\n c@x\nSubject: s\n\nbody\n");
        assert_eq!(parts.kept, b"To: a@x\nSubject: s\n");
        assert_eq!(parts.header, b"To: a@x\nBcc: b@x,\n c@x\nSubject: s\n");
        assert_eq!(parts.body, b"\nbody\n");
        let parts = split(b"just a body line\n");
        assert!(parts.header.is_empty());
        assert_eq!(parts.body, b"\njust a body line\n");
        let parts = split(b"From me Mon Nov 23 20:00:00 2026\nTo: a@x\n\nbody\n");
        assert_eq!(parts.kept, b"To: a@x\n");
        assert_eq!(split(b"To: a\r\n\r\nx").eol, "\r\n");
    }

    #[test]
    fn fields_are_found_by_name_in_any_case() {
        assert!(has_field(b"To: a\r\nmessage-id: <1@x>\r\n", "Message-ID"));
        assert!(!has_field(b"To: a\n X-Date: y\n", "Date"));
        assert_eq!(field_name(b"X-A: b"), Some(&b"X-A"[..]));
        assert_eq!(field_name(b"no field here"), None);
    }

    #[test]
    fn bcc_and_its_continuation_lines_are_not_sent() {
        let h =
            strict("From: a@x\r\nBcc: s@x,\r\n t@x\r\n\tu@x\r\nTo: b@x\r\n\r\nbody\r\n").unwrap();
        assert_eq!(h.kept, b"From: a@x\r\nTo: b@x\r\n\r\n");
        assert_eq!(strip_bcc(b"BCC: a\n b\nX: y\nbcc:z\n"), b"X: y\n");
    }

    #[test]
    fn what_is_not_a_message_is_explained() {
        let text = |r: Result<Header, HeaderError>| r.unwrap_err().to_string();
        assert_eq!(
            text(strict("hello world\n\n")),
            "has no header field in line 1 (expected `Name: value`); it is not an RFC 5322 message"
        );
        assert_eq!(
            text(strict("\nbody")),
            "has no header (it starts with a blank line)"
        );
        assert_eq!(
            text(strict("To: a@x\n\x00\x01\x02\n")),
            "contains NUL bytes in line 2: it is not a text message"
        );
        assert_eq!(
            text(strict(" folded\n\n")),
            "starts with a continuation line, not a header field"
        );
        let long = format!("X: {}\n", "a".repeat(MAX_HEADER));
        assert_eq!(
            text(strict(&long)),
            "has no end of header (no blank line) in its first 256 KiB"
        );
    }

    #[test]
    fn the_subject_is_read_unfolded_from_the_header_only() {
        let message =
            "From: a@x\r\nSubject: Fax from\r\n 555-1234\r\nTo: b@x\r\n\r\nSubject: body\r\n";
        assert_eq!(
            read_subject(message.as_bytes()).as_deref(),
            Some("Fax from 555-1234")
        );
        assert_eq!(read_subject(&b"To: b@x\n\nSubject: no\n"[..]), None);
        let block = read_header_block(message.as_bytes()).unwrap();
        assert_eq!(
            block,
            b"From: a@x\r\nSubject: Fax from\r\n 555-1234\r\nTo: b@x\r\n"
        );
    }
}
