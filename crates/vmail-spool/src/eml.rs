//! `*.eml` drops: a complete RFC 5322 message. The envelope comes from its
//! headers, as `sendmail -t` does; the Bcc field is removed from what is
//! queued; a missing From, Date and Message-ID are added from the drop's
//! [`Stamp`]. All of that is `vmail-message`'s; this module reads the file:
//! only the header is held in memory, the body is streamed.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};

use vmail_core::Envelope;
use vmail_message::fields::{Sender, added_fields};
use vmail_message::header::{Header, eol_of, read_header};
use vmail_message::{EnvelopeError, LocalNames, Stamp, envelope};

use crate::drops::Prepared;
use crate::error::DropError;

/// Reads the header of an `.eml` file and returns the envelope and the
/// message to queue (the added fields and the header without Bcc, then the
/// rest, streamed).
pub(crate) fn prepare(
    file: File,
    default_from: &str,
    names: &LocalNames,
    stamp: &Stamp,
) -> Result<Prepared, DropError> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let header = read_header(&mut reader)?;
    let (mut envelope, fixed) = queued_header(&header, default_from, stamp)?;
    // The envelope only: the header keeps `To: root` as written.
    let rewrites = envelope::rewrite_local(&mut envelope, names);
    // A name nothing placed (`To: Fax`, or `root` without the keys) is
    // left out, as before local names were read: the other recipients
    // still get the message.
    envelope.recipients.retain(|rcpt| rcpt.contains('@'));
    if envelope.recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients.into());
    }
    if !envelope.from.contains('@') {
        return Err(EnvelopeError::NoSender.into());
    }
    Ok(Prepared {
        envelope,
        message: Box::new(Cursor::new(fixed).chain(reader)),
        consumed: Vec::new(),
        rewrites,
        faxes: Vec::new(),
    })
}

/// The envelope of a header, and the header to queue: the fields it lacks,
/// then the header without Bcc.
fn queued_header(
    header: &Header,
    default_from: &str,
    stamp: &Stamp,
) -> Result<(Envelope, Vec<u8>), DropError> {
    let envelope = envelope::from_header(&header.all, default_from)?;
    let eol = eol_of(&header.all);
    let mut fixed = added_fields(&header.all, Sender::new(&envelope.from), stamp, eol);
    fixed.extend_from_slice(&header.kept);
    Ok((envelope, fixed))
}

/// What pickup makes of the start of an `.eml` drop held in memory: the
/// envelope and the header it would queue (for `fuzz/`).
pub(crate) fn header_of(
    bytes: &[u8],
    default_from: &str,
) -> Result<(Envelope, Vec<u8>), DropError> {
    let header = read_header(&mut &bytes[..])?;
    queued_header(&header, default_from, &Stamp::now())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_queued_header_has_the_added_fields_first_and_no_bcc() {
        let (env, header) = header_of(
            b"To: b@y.org\r\nBcc: c@y.org,\r\n d@y.org\r\nSubject: hi\r\n\r\nbody",
            "fax@x.org",
        )
        .unwrap();
        assert_eq!(env.from, "fax@x.org");
        assert_eq!(env.recipients, ["b@y.org", "c@y.org", "d@y.org"]);
        let header = String::from_utf8(header).unwrap();
        let lines: Vec<&str> = header.split_terminator("\r\n").collect();
        assert_eq!(lines[0], "From: fax@x.org");
        assert!(lines[1].starts_with("Date: "), "{header}");
        assert!(lines[2].starts_with("Message-ID: <") && lines[2].ends_with("@x.org>"));
        assert_eq!(lines[3..], ["To: b@y.org", "Subject: hi", ""]);
    }

    #[test]
    fn what_is_not_a_message_is_explained() {
        assert_eq!(
            header_of(b"hello world\n\n", "").unwrap_err().to_string(),
            "has no header field in line 1 (expected `Name: value`); it is not an RFC 5322 message"
        );
        assert_eq!(
            header_of(b"From: a@x\nSubject: hi\n\n", "")
                .unwrap_err()
                .to_string(),
            "has no recipients: no address in its To, Cc or Bcc fields"
        );
    }
}
