//! The fields RFC 5322 requires that a message may lack, added the way
//! sendmail adds them: From (the envelope sender), Date and Message-ID,
//! each only when the header has no field of that name.

use crate::header::has_field;
use crate::stamp::Stamp;

/// Who the added From names: the envelope sender, with the shim's `-F`
/// full name when one was given.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub address: &'a str,
    pub full_name: Option<&'a str>,
}

impl<'a> Sender<'a> {
    pub fn new(address: &'a str) -> Sender<'a> {
        Sender {
            address,
            full_name: None,
        }
    }
}

/// The lines to put before `header`, ending in `eol` each. A null sender
/// adds no From, and its Message-ID is at `localhost`.
pub fn added_fields(header: &[u8], sender: Sender<'_>, stamp: &Stamp, eol: &str) -> Vec<u8> {
    let mut out = String::new();
    if !has_field(header, "From") && !sender.address.is_empty() {
        match sender.full_name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => {
                let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
                out.push_str(&format!("From: \"{quoted}\" <{}>{eol}", sender.address));
            }
            None => out.push_str(&format!("From: {}{eol}", sender.address)),
        }
    }
    if !has_field(header, "Date") {
        out.push_str(&format!("Date: {}{eol}", stamp.date_value()));
    }
    if !has_field(header, "Message-ID") {
        let domain = crate::address::domain(sender.address).unwrap_or("localhost");
        out.push_str(&format!("Message-ID: {}{eol}", stamp.message_id(domain)));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn missing_date_message_id_and_from_are_added_like_sendmail_does() {
        let stamp = Stamp::now();
        let added = added_fields(
            b"To: b@y.org\r\nSubject: hi\r\n",
            Sender::new("fax@x.org"),
            &stamp,
            "\r\n",
        );
        let added = String::from_utf8(added).unwrap();
        let lines: Vec<&str> = added.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3, "{added}");
        assert_eq!(lines[0], "From: fax@x.org");
        assert_eq!(lines[1], format!("Date: {}", stamp.date_value()));
        assert_eq!(
            lines[2],
            format!("Message-ID: {}", stamp.message_id("x.org"))
        );
        let full =
            b"From: a@x\nDate: Mon, 23 Nov 2026 19:42:00 +0000\nmessage-id: <1@x>\nTo: b@y\n";
        assert!(added_fields(full, Sender::new("fax@x.org"), &stamp, "\n").is_empty());
    }

    #[test]
    fn the_full_name_is_quoted_and_a_null_sender_adds_no_from() {
        let stamp = Stamp::now();
        let sender = Sender {
            address: "fax@x.org",
            full_name: Some("Fax \"Main\" Server"),
        };
        let added = String::from_utf8(added_fields(b"To: b@y\n", sender, &stamp, "\n")).unwrap();
        assert!(
            added.starts_with("From: \"Fax \\\"Main\\\" Server\" <fax@x.org>\n"),
            "{added}"
        );
        let added = String::from_utf8(added_fields(b"", Sender::new(""), &stamp, "\n")).unwrap();
        assert!(!added.contains("From:"), "{added}");
        assert!(added.contains("@localhost>\n"), "{added}");
    }
}
