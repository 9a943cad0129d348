#![allow(clippy::unwrap_used)]

use super::*;
use mail_parser::{MessageParser, PartType};

fn parsed_text(message: &[u8]) -> (Option<String>, Vec<String>) {
    let parsed = MessageParser::new().parse(message).unwrap();
    let subject = parsed.subject().map(str::to_string);
    let texts = (0..parsed.text_body_count())
        .map(|i| parsed.body_text(i).unwrap().into_owned())
        .collect();
    (subject, texts)
}

fn assert_7bit(message: &[u8]) {
    let line = message
        .split(|&b| b == b'\n')
        .find(|line| has_8bit(line))
        .map(String::from_utf8_lossy);
    assert!(line.is_none(), "8-bit line left: {line:?}");
}

#[test]
fn a_single_part_8bit_text_becomes_quoted_printable_and_reads_the_same() {
    let original = "From: Jörg Müller <joerg@example.de>\r\n\
                    To: fax@example.com\r\n\
                    Subject: Grüße aus Köln, schöne Faxe\r\n\
                    MIME-Version: 1.0\r\n\
                    Content-Type: text/plain; charset=utf-8\r\n\
                    Content-Transfer-Encoding: 8bit\r\n\
                    \r\n\
                    Sehr geehrte Frau Weiß,\r\n\
                    anbei das Fax über 3 Seiten. Grüße, Jörg\r\n\
                    .\r\n";
    let down = to_7bit(original.as_bytes());
    assert_7bit(&down.message);
    assert_eq!(
        (down.quoted_printable, down.base64, down.headers),
        (1, 0, 2)
    );
    let text = String::from_utf8(down.message.clone()).unwrap();
    assert!(
        text.contains("Content-Transfer-Encoding: quoted-printable\r\n"),
        "{text}"
    );
    assert!(!text.contains("8bit"), "{text}");
    assert!(text.contains("To: fax@example.com\r\n"), "{text}");
    assert_eq!(parsed_text(&down.message), parsed_text(original.as_bytes()));
    let from = MessageParser::new().parse(&down.message).unwrap();
    let from = from.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Jörg Müller"));
    assert_eq!(from.address(), Some("joerg@example.de"));
    assert_eq!(
        down.summary(),
        "1 part(s) re-encoded as quoted-printable, 2 header field(s) written as RFC 2047 \
         encoded-words"
    );
}

#[test]
fn a_multipart_message_has_only_its_8bit_parts_reencoded() {
    let original = "From: fax@example.com\n\
                    To: a@example.com\n\
                    Subject: plain\n\
                    MIME-Version: 1.0\n\
                    Content-Type: multipart/mixed; boundary=\"b1\"\n\
                    Content-Transfer-Encoding: 8bit\n\
                    \n\
                    preamble\n\
                    --b1\n\
                    Content-Type: text/plain; charset=utf-8\n\
                    \n\
                    Größe: 12 €\n\
                    --b1\n\
                    Content-Type: text/plain; charset=us-ascii\n\
                    \n\
                    just ascii\n\
                    --b1\n\
                    Content-Type: application/octet-stream\n\
                    Content-Transfer-Encoding: 8bit\n\
                    \n\
                    \u{ff}\u{fe}raw\n\
                    --b1\n\
                    Content-Type: message/rfc822\n\
                    \n\
                    Subject: innen ä\n\
                    \n\
                    Inhalt mit ü\n\
                    --b1--\n\
                    epilogue\n";
    let down = to_7bit(original.as_bytes());
    assert_7bit(&down.message);
    assert_eq!(
        (down.quoted_printable, down.base64, down.headers),
        (2, 1, 1)
    );
    let text = String::from_utf8(down.message.clone()).unwrap();
    assert!(!text.contains('\r'), "line ends kept as LF: {text:?}");
    assert!(
        text.contains("--b1\nContent-Type: text/plain; charset=us-ascii\n\njust ascii\n--b1\n"),
        "{text}"
    );
    assert!(
        text.contains("Content-Transfer-Encoding: 7bit\n\npreamble"),
        "{text}"
    );
    assert!(text.ends_with("--b1--\nepilogue\n"), "{text}");
    let before = MessageParser::new().parse(original.as_bytes()).unwrap();
    let after = MessageParser::new().parse(&down.message).unwrap();
    assert_eq!(before.parts.len(), after.parts.len());
    for (a, b) in before.parts.iter().zip(&after.parts) {
        if matches!(a.body, PartType::Message(_)) {
            continue;
        }
        assert_eq!(a.contents(), b.contents());
    }
    let inner = after.attachment(1).unwrap().message().unwrap();
    assert_eq!(inner.subject(), Some("innen ä"));
    assert_eq!(inner.body_text(0).unwrap(), "Inhalt mit ü");
}

#[test]
fn a_7bit_message_is_left_byte_for_byte() {
    let original = b"Subject: hi\r\n\r\n.line\r\n".to_vec();
    let down = to_7bit(&original);
    assert!(!down.changed());
    assert_eq!(down.message, original);
    assert_eq!(down.summary(), "nothing to re-encode");
}

#[test]
fn long_8bit_headers_fold_into_short_encoded_words() {
    let subject = "Ä".repeat(100);
    let original = format!("Subject: {subject}\n\nbody\n");
    let down = to_7bit(original.as_bytes());
    let text = String::from_utf8(down.message.clone()).unwrap();
    for line in text.lines() {
        assert!(line.len() <= 78, "{line}");
    }
    assert_eq!(
        parsed_text(&down.message).0.as_deref(),
        Some(subject.as_str())
    );
}

#[test]
fn quoted_names_and_lists_keep_their_punctuation_outside_the_words() {
    let original = "To: \"Weiß, Anna\" <a@x.de>, Jörg <j@x.de>\n\nx\n";
    let down = to_7bit(original.as_bytes());
    let parsed = MessageParser::new().parse(&down.message).unwrap();
    let to: Vec<_> = parsed
        .to()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a.name().unwrap().to_string(),
                a.address().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        to,
        [
            ("Weiß, Anna".to_string(), "a@x.de".to_string()),
            ("Jörg".to_string(), "j@x.de".to_string())
        ]
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let mut message = String::from("x ü\n");
    for _ in 0..100 {
        message = format!("Content-Type: message/rfc822\n\n{message}");
    }
    let down = to_7bit(message.as_bytes());
    assert_7bit(&down.message);
}
