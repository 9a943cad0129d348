//! The MIME message of `vfx` and of `.job` drops, built with lettre: a text
//! part (the cover page, the note, the body), then one attachment per file,
//! named and typed from its file name.

use std::path::Path;

use lettre::Message;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::stamp::Stamp;

/// A file to attach, read whole by the caller (the spool opens drops its
/// own careful way; `vfx` reads the files it is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The attachment's file name (the last component of its path).
    pub name: String,
    /// `application/pdf`, `image/tiff`, `text/plain; charset=utf-8`, ...
    /// (see [`content_type`]).
    pub mime: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// An attachment named after the last component of `path`, typed from
    /// its name and, for names nothing is known of, from its bytes.
    pub fn from_path(path: &Path, bytes: Vec<u8>) -> Attachment {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Attachment {
            name,
            mime: content_type(path, &bytes),
            bytes,
        }
    }
}

/// The Content-Type of a file: from its name when the name is known
/// (`report.pdf`), else from its bytes: a cron log or a `notes` file that
/// is text (UTF-8, so ASCII too, without NULs) is `text/plain;
/// charset=utf-8`, which a mail program shows inline, rather than
/// `application/octet-stream`, which it offers only to save. Known text
/// types that are valid UTF-8 say so too.
pub fn content_type(path: &Path, bytes: &[u8]) -> String {
    let is_text = !bytes.is_empty() && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok();
    match mime_guess::from_path(path).first() {
        Some(known) if known.type_() == mime_guess::mime::TEXT && is_text => {
            format!("{}; charset=utf-8", known.essence_str())
        }
        Some(known) => known.essence_str().to_string(),
        None if is_text => "text/plain; charset=utf-8".to_string(),
        None => "application/octet-stream".to_string(),
    }
}

/// The MIME type of a file from its name: `application/pdf`, `image/tiff`,
/// ... or `application/octet-stream` for names nothing is known of.
pub fn mime_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// Everything the message says.
#[derive(Debug, Clone)]
pub struct Draft {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// Shown in the header; Bcc recipients are in the envelope only.
    pub cc: Vec<Mailbox>,
    pub subject: Option<String>,
    /// The text part; a final line end is added when missing.
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// Date and Message-ID (the Message-ID at the sender's domain).
    pub stamp: Stamp,
}

/// Why a draft could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    #[error("{name}: no MIME type {mime}")]
    BadType { name: String, mime: String },
    #[error("{0}")]
    Build(#[from] lettre::error::Error),
}

/// The RFC 5322 message of `draft`, with CRLF line ends.
pub fn build(draft: &Draft) -> Result<Vec<u8>, MimeError> {
    let mut builder = Message::builder()
        .from(draft.from.clone())
        .date(draft.stamp.system_time())
        .message_id(Some(draft.stamp.message_id(draft.from.email.domain())));
    for mbox in &draft.to {
        builder = builder.to(mbox.clone());
    }
    for mbox in &draft.cc {
        builder = builder.cc(mbox.clone());
    }
    if draft.to.is_empty() && draft.cc.is_empty() {
        // Everyone is Bcc: RFC 5322 needs no To field, but lettre derives
        // its envelope from To and Cc and refuses a message without them.
        // It gets an envelope it never uses: what is sent to whom is the
        // spool's envelope, and only the formatted bytes are kept.
        let sender = draft.from.email.clone();
        builder = builder.envelope(Envelope::new(Some(sender.clone()), vec![sender])?);
    }
    if let Some(subject) = &draft.subject {
        builder = builder.subject(subject.clone());
    }
    let mut text = draft.text.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let message = if draft.attachments.is_empty() {
        builder.singlepart(SinglePart::plain(text))?
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text));
        for attachment in &draft.attachments {
            let content_type =
                ContentType::parse(&attachment.mime).map_err(|_| MimeError::BadType {
                    name: attachment.name.clone(),
                    mime: attachment.mime.clone(),
                })?;
            parts = parts.singlepart(
                lettre::message::Attachment::new(attachment.name.clone())
                    .body(attachment.bytes.clone(), content_type),
            );
        }
        builder.multipart(parts)?
    };
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    fn draft(attachments: Vec<Attachment>) -> Draft {
        Draft {
            from: "Fax <fax@x.test>".parse().unwrap(),
            to: vec!["ann@y.test".parse().unwrap()],
            cc: vec!["bob@y.test".parse().unwrap()],
            subject: Some("Invoice 42".into()),
            text: "Please sign.".into(),
            attachments,
            stamp: Stamp::now(),
        }
    }

    #[test]
    fn attachment_types_follow_the_file_name() {
        let cases = [
            ("a.pdf", "application/pdf"),
            ("a.tif", "image/tiff"),
            ("a.TIFF", "image/tiff"),
            ("a.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.jpeg", "image/jpeg"),
            ("a.txt", "text/plain"),
            ("a.fax-g3", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(mime_type(Path::new(name)), expected, "{name}");
        }
        let a = Attachment::from_path(Path::new("/tmp/x/scan.tif"), b"II*".to_vec());
        assert_eq!(
            (a.name.as_str(), a.mime.as_str()),
            ("scan.tif", "image/tiff")
        );
    }

    #[test]
    fn text_without_a_known_name_is_sniffed() {
        let typed = |name: &str, bytes: &[u8]| content_type(Path::new(name), bytes);
        assert_eq!(
            typed("cron-output", b"job ran\n"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            typed("notes.log", "café\n".as_bytes()),
            "text/plain; charset=utf-8"
        );
        assert_eq!(typed("a.txt", b"plain"), "text/plain; charset=utf-8");
        assert_eq!(typed("a.txt", &[0xe9, b'x']), "text/plain");
        assert_eq!(typed("blob", b"a\0b"), "application/octet-stream");
        assert_eq!(typed("blob", &[0xff, 0xfe]), "application/octet-stream");
        assert_eq!(typed("empty", b""), "application/octet-stream");
        assert_eq!(typed("scan.pdf", b"%PDF-1.4 text-like"), "application/pdf");
        let part = Attachment::from_path(Path::new("report"), b"all ok\n".to_vec());
        let bytes = build(&draft(vec![part])).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("filename=\"report\"\r\nContent-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
    }

    #[test]
    fn a_draft_for_bcc_recipients_only_has_no_to_or_cc_field() {
        let mut d = draft(Vec::new());
        d.to.clear();
        d.cc.clear();
        let bytes = build(&d).unwrap();
        let message = MessageParser::new().parse(&bytes).unwrap();
        assert!(message.to().is_none() && message.cc().is_none());
        assert!(message.bcc().is_none());
        assert_eq!(
            message.from().unwrap().first().unwrap().address(),
            Some("fax@x.test")
        );
        assert_eq!(message.body_text(0).unwrap().trim_end(), "Please sign.");
    }

    #[test]
    fn a_draft_with_attachments_is_multipart_mixed_with_named_parts() {
        let d = draft(vec![
            Attachment::from_path(Path::new("invoice.pdf"), b"%PDF-1.4".to_vec()),
            Attachment::from_path(Path::new("scan.png"), vec![0x89, b'P', b'N', b'G']),
        ]);
        let bytes = build(&d).unwrap();
        let message = MessageParser::new().parse(&bytes).unwrap();
        assert_eq!(message.subject(), Some("Invoice 42"));
        assert_eq!(
            message.message_id(),
            Some(d.stamp.message_id("x.test").trim_matches(['<', '>']))
        );
        assert_eq!(
            message.cc().unwrap().first().unwrap().address(),
            Some("bob@y.test")
        );
        assert_eq!(message.content_type().unwrap().subtype(), Some("mixed"));
        assert_eq!(message.body_text(0).unwrap().trim_end(), "Please sign.");
        let names: Vec<(&str, String)> = message
            .attachments()
            .map(|p| {
                let ct = p.content_type().unwrap();
                let mime = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""));
                (p.attachment_name().unwrap(), mime)
            })
            .collect();
        assert_eq!(
            names,
            [
                ("invoice.pdf", "application/pdf".to_string()),
                ("scan.png", "image/png".to_string())
            ]
        );
        assert_eq!(message.attachment(0).unwrap().contents(), b"%PDF-1.4");
    }

    #[test]
    fn a_draft_without_attachments_is_one_text_part() {
        let bytes = build(&draft(Vec::new())).unwrap();
        let message = MessageParser::new().parse(&bytes).unwrap();
        assert_eq!(message.content_type().unwrap().ctype(), "text");
        assert_eq!(message.body_text(0).unwrap().trim_end(), "Please sign.");
        assert_eq!(message.attachment_count(), 0);
    }
}
