//! `*.eml` drops: a complete RFC 5322 message. The envelope comes from its
//! headers, as `sendmail -t` does; the Bcc field is removed from what is
//! queued. Only the header is held in memory; the body is streamed.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};

use chrono::Utc;
use mail_parser::{Address, Message, MessageParser};
use vmail_core::Envelope;

use crate::drops::{DropMark, Prepared};

/// The most header accepted before the blank line.
const MAX_HEADER: usize = 256 * 1024;

/// Reads the header of an `.eml` file and returns the envelope and the
/// message to queue (the header without Bcc, then the rest, streamed).
pub(crate) fn prepare(file: File, default_from: &str, mark: &DropMark) -> Result<Prepared, String> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let header = read_header(&mut reader)?;
    let (envelope, fixed) = queued_header(&header, default_from, Some(mark))?;
    Ok(Prepared {
        envelope,
        message: Box::new(Cursor::new(fixed).chain(reader)),
        consumed: Vec::new(),
    })
}

/// The envelope of a header, and the header to queue: the fields it lacks,
/// then the header without Bcc.
fn queued_header(
    header: &Header,
    default_from: &str,
    mark: Option<&DropMark>,
) -> Result<(Envelope, Vec<u8>), String> {
    let message = MessageParser::new()
        .parse_headers(&header.all)
        .ok_or("has a header that cannot be parsed")?;
    let envelope = envelope_of(&message, default_from)?;
    let mut fixed = added_fields(&message, &envelope, &header.all, mark);
    fixed.extend_from_slice(&header.kept);
    Ok((envelope, fixed))
}

/// What pickup makes of the start of an `.eml` drop held in memory: the
/// envelope and the header it would queue (for `fuzz/`).
pub(crate) fn header_of(bytes: &[u8], default_from: &str) -> Result<(Envelope, Vec<u8>), String> {
    let header = read_header(&mut &bytes[..])?;
    queued_header(&header, default_from, None)
}

/// The fields RFC 5322 requires that the message lacks, as `sendmail`
/// adds them: Date, Message-ID, and From (the envelope sender). Date and
/// Message-ID come from the drop file (`mark`) when there is one, so a drop
/// queued twice across a crash is the same message twice.
fn added_fields(
    message: &Message<'_>,
    envelope: &Envelope,
    header: &[u8],
    mark: Option<&DropMark>,
) -> Vec<u8> {
    let eol = if header.windows(2).any(|w| w == b"\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut out = String::new();
    if message.from().is_none() && !envelope.from.is_empty() {
        out.push_str(&format!("From: {}{eol}", envelope.from));
    }
    if message.date().is_none() {
        let date = mark.map_or_else(Utc::now, |mark| mark.written);
        out.push_str(&format!("Date: {}{eol}", date.to_rfc2822()));
    }
    if message.message_id().is_none() {
        let domain = envelope
            .from
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d);
        let id = match mark {
            Some(mark) => mark.message_id(domain),
            None => {
                let stamp = Utc::now().format("%Y%m%d%H%M%S");
                let nonce: u64 = vmail_core::unique::random_u64();
                format!("<{stamp}.{nonce:016x}@{domain}>")
            }
        };
        out.push_str(&format!("Message-ID: {id}{eol}"));
    }
    out.into_bytes()
}

/// The header section: all of it (to parse) and what is queued (no Bcc),
/// both ending with the blank line (if the message had one).
#[derive(Debug)]
pub(crate) struct Header {
    pub all: Vec<u8>,
    pub kept: Vec<u8>,
}

pub(crate) fn read_header(reader: &mut impl BufRead) -> Result<Header, String> {
    let mut header = Header {
        all: Vec::new(),
        kept: Vec::new(),
    };
    let mut line = Vec::new();
    let mut in_bcc = false;
    for number in 1.. {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|err| format!("cannot be read: {err}"))?;
        if n == 0 || line == b"\n" || line == b"\r\n" {
            if number == 1 {
                return Err("has no header (it starts with a blank line)".to_string());
            }
            header.all.extend_from_slice(&line);
            header.kept.extend_from_slice(&line);
            return Ok(header);
        }
        if header.all.len() + line.len() > MAX_HEADER {
            return Err(format!(
                "has no end of header (no blank line) in its first {} KiB",
                MAX_HEADER / 1024
            ));
        }
        in_bcc = classify_line(&line, number, in_bcc)?;
        header.all.extend_from_slice(&line);
        if !in_bcc {
            header.kept.extend_from_slice(&line);
        }
    }
    Err("has a header that never ends".to_string())
}

/// Checks one header line; returns whether it belongs to a Bcc field.
fn classify_line(line: &[u8], number: usize, in_bcc: bool) -> Result<bool, String> {
    if line.contains(&0) {
        return Err(format!(
            "contains NUL bytes in line {number}: it is not a text message"
        ));
    }
    if matches!(line.first(), Some(b' ' | b'\t')) {
        if number == 1 {
            return Err("starts with a continuation line, not a header field".to_string());
        }
        return Ok(in_bcc); // a folded continuation of the field before
    }
    let name = field_name(line).ok_or_else(|| {
        format!("has no header field in line {number} (expected `Name: value`); it is not an RFC 5322 message")
    })?;
    Ok(name.eq_ignore_ascii_case(b"bcc"))
}

/// The name of a field line: printable ASCII up to the colon (RFC 5322 ftext).
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    let valid = !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b));
    valid.then_some(name)
}

fn envelope_of(message: &Message<'_>, default_from: &str) -> Result<Envelope, String> {
    let mut recipients: Vec<String> = Vec::new();
    for field in [message.to(), message.cc(), message.bcc()]
        .into_iter()
        .flatten()
    {
        for address in addresses(field) {
            if !recipients
                .iter()
                .any(|known| known.eq_ignore_ascii_case(&address))
            {
                recipients.push(address);
            }
        }
    }
    if recipients.is_empty() {
        return Err("has no recipients: no address in its To, Cc or Bcc fields".to_string());
    }
    let from = if default_from.is_empty() {
        message
            .from()
            .and_then(|from| addresses(from).into_iter().next())
            .ok_or("has no sender: no address in its From field, and [VMAIL] from is not set")?
    } else {
        default_from.to_string()
    };
    Ok(Envelope::new(from, recipients))
}

/// The addresses of a field, groups flattened, display names dropped.
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

    fn header(text: &str) -> Result<Header, String> {
        read_header(&mut text.as_bytes())
    }

    fn envelope(header: &Header, default_from: &str) -> Result<Envelope, String> {
        let message = MessageParser::new().parse_headers(&header.all).unwrap();
        envelope_of(&message, default_from)
    }

    #[test]
    fn missing_date_message_id_and_from_are_added_like_sendmail_does() {
        let h = header("To: b@y.org\r\nSubject: hi\r\n\r\n").unwrap();
        let message = MessageParser::new().parse_headers(&h.all).unwrap();
        let env = envelope_of(&message, "fax@x.org").unwrap();
        let added = String::from_utf8(added_fields(&message, &env, &h.all, None)).unwrap();
        let lines: Vec<&str> = added.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3, "{added}");
        assert_eq!(lines[0], "From: fax@x.org");
        assert!(lines[1].starts_with("Date: "), "{added}");
        assert!(lines[2].starts_with("Message-ID: <") && lines[2].ends_with("@x.org>"));
        let full =
            "From: a@x\nDate: Mon, 23 Nov 2026 19:42:00 +0000\nMessage-ID: <1@x>\nTo: b@y\n\n";
        let h = header(full).unwrap();
        let message = MessageParser::new().parse_headers(&h.all).unwrap();
        assert!(added_fields(&message, &env, &h.all, None).is_empty());
    }

    #[test]
    fn bcc_and_its_continuation_lines_are_dropped_from_the_queued_header() {
        let h = header("From: a@x\r\nBcc: s@x,\r\n t@x\r\nTo: b@x\r\n\r\nbody\r\n").unwrap();
        assert_eq!(h.kept, b"From: a@x\r\nTo: b@x\r\n\r\n");
        let env = envelope(&h, "").unwrap();
        assert_eq!(env.from, "a@x");
        assert_eq!(env.recipients, vec!["b@x", "s@x", "t@x"]);
    }

    #[test]
    fn groups_comments_and_display_names_give_bare_addresses() {
        let text = "From: \"Fax, Server\" <fax@x.org> (the fax)\n\
                    To: Team: Ann <ann@x.org>, bob@x.org (Bob);, \"Doe, J\" <j@y.org>\n\n";
        let h = header(text).unwrap();
        let env = envelope(&h, "relay@x.org").unwrap();
        assert_eq!(env.from, "relay@x.org");
        assert_eq!(env.recipients, vec!["ann@x.org", "bob@x.org", "j@y.org"]);
    }

    #[test]
    fn what_is_not_a_message_is_explained() {
        assert_eq!(
            header("hello world\n\n").unwrap_err(),
            "has no header field in line 1 (expected `Name: value`); it is not an RFC 5322 message"
        );
        assert_eq!(
            header("\nbody").unwrap_err(),
            "has no header (it starts with a blank line)"
        );
        assert_eq!(
            header("To: a@x\n\x00\x01\x02\n").unwrap_err(),
            "contains NUL bytes in line 2: it is not a text message"
        );
        let h = header("From: a@x\nSubject: hi\n\n").unwrap();
        assert_eq!(
            envelope(&h, "").unwrap_err(),
            "has no recipients: no address in its To, Cc or Bcc fields"
        );
    }
}
