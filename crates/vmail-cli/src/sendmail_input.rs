//! The message a sendmail caller writes on standard input: read up to the
//! end (or, without `-i`, a line holding a single dot), split into header
//! and body, Bcc removed, and the fields sendmail adds when missing.

use std::io::{BufRead, Read};

use mail_parser::{Address, MessageParser};

/// What went wrong with the input.
#[derive(Debug, PartialEq, Eq)]
pub enum InputError {
    /// Bigger than the limit: the size read so far (at least limit + 1).
    TooLarge {
        limit: u64,
    },
    Io(String),
}

/// Reads the message from `input`. Without `ignore_dots`, a line that is
/// a single `.` ends it (the rest is not read), as in sendmail.
pub fn read_message(
    input: &mut impl BufRead,
    ignore_dots: bool,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    let mut message = Vec::new();
    if ignore_dots {
        input
            .take(limit.saturating_add(1))
            .read_to_end(&mut message)
            .map_err(|e| InputError::Io(e.to_string()))?;
    } else {
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = input
                .read_until(b'\n', &mut line)
                .map_err(|e| InputError::Io(e.to_string()))?;
            if n == 0 || line == b".\n" || line == b".\r\n" || line == b"." {
                break;
            }
            message.extend_from_slice(&line);
            if message.len() as u64 > limit {
                break;
            }
        }
    }
    if message.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(message)
}

/// A message split at the end of its header.
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

/// Splits `message`: the header is the leading run of `Name: value` and
/// continuation lines; what follows is the body, as sendmail reads it.
pub fn split(message: &[u8]) -> Parts {
    let eol = if message.windows(2).any(|w| w == b"\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut parts = Parts {
        header: Vec::new(),
        kept: Vec::new(),
        body: Vec::new(),
        eol,
    };
    let mut rest = skip_mbox_line(message);
    let mut in_bcc = false;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t')) && !parts.header.is_empty();
        let name = field_name(line);
        if !continuation && name.is_none() {
            break;
        }
        if let Some(name) = name {
            in_bcc = name.eq_ignore_ascii_case(b"bcc");
        }
        parts.header.extend_from_slice(line);
        if !in_bcc {
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

/// The name of a header field line (printable ASCII up to a colon).
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    let valid = !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b));
    valid.then_some(name)
}

/// Whether the header has a field called `name`.
pub fn has_field(header: &[u8], name: &str) -> bool {
    header
        .split(|&b| b == b'\n')
        .filter_map(field_name)
        .any(|n| n.eq_ignore_ascii_case(name.as_bytes()))
}

/// The addresses of the To, Cc and Bcc fields (`sendmail -t`), groups
/// flattened, display names dropped.
pub fn header_recipients(header: &[u8]) -> Vec<String> {
    let Some(message) = MessageParser::new().parse_headers(header) else {
        return Vec::new();
    };
    [message.to(), message.cc(), message.bcc()]
        .into_iter()
        .flatten()
        .flat_map(addresses)
        .collect()
}

fn addresses(field: &Address<'_>) -> Vec<String> {
    field
        .iter()
        .filter_map(|addr| addr.address())
        .map(|addr| addr.trim().to_string())
        .filter(|addr| !addr.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_dot_ends_the_message_unless_dots_are_ignored() {
        let text = "Subject: x\n\none\n.\ntwo\n";
        let read = read_message(&mut text.as_bytes(), false, 1000).unwrap();
        assert_eq!(read, b"Subject: x\n\none\n");
        let read = read_message(&mut text.as_bytes(), true, 1000).unwrap();
        assert_eq!(read, text.as_bytes());
        assert_eq!(
            read_message(&mut text.as_bytes(), true, 5).unwrap_err(),
            InputError::TooLarge { limit: 5 }
        );
    }

    #[test]
    fn bcc_is_dropped_and_a_missing_blank_line_is_added() {
        let parts = split(b"To: a@x\nBcc: b@x,\n c@x\nSubject: s\n\nbody\n");
        assert_eq!(parts.kept, b"To: a@x\nSubject: s\n");
        assert_eq!(parts.body, b"\nbody\n");
        assert_eq!(header_recipients(&parts.header), ["a@x", "b@x", "c@x"]);
        let parts = split(b"just a body line\n");
        assert!(parts.header.is_empty());
        assert_eq!(parts.body, b"\njust a body line\n");
        assert!(has_field(b"To: a\r\nmessage-id: <1@x>\r\n", "Message-ID"));
        assert!(!has_field(b"To: a\n X-Date: y\n", "Date"));
        let parts = split(b"From me Mon Nov 23 20:00:00 2026\nTo: a@x\n\nbody\n");
        assert_eq!(parts.kept, b"To: a@x\n");
    }
}
