//! 8BITMIME (RFC 6152) against the real Postfix: an 8-bit message goes with
//! `BODY=8BITMIME` where it is offered and arrives byte for byte; to the
//! listener that does not offer it, it is made 7-bit first (8-bit text
//! parts quoted-printable, 8-bit header text RFC 2047), arrives without a
//! single 8-bit byte, and reads the same once decoded.
use crate::common;
use common::real;
use mail_parser::MessageParser;
use vmail_core::{Envelope, TlsMode};
use vmail_smtp::{Body, Outgoing, SessionReport, Submitter};

fn single_part(id: &str) -> String {
    format!(
        "From: Jörg Müller <fax@example.test>\r\nTo: <jms1@jms1.net>\r\n\
         Subject: Grüße aus Köln: Fax über 3 Seiten\r\nMessage-ID: <{id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n\
         Sehr geehrte Frau Weiß,\r\n\r\nanbei das Fax. Größe: 12 € – schöne Grüße\r\n.\r\nJörg\r\n"
    )
}

fn multipart(id: &str) -> String {
    format!(
        "From: <fax@example.test>\r\nTo: <jms1@jms1.net>\r\nSubject: Anhang für Sie\r\n\
         Message-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
         --=_b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Übersicht: 2 Seiten, Empfänger Müller\r\n\
         --=_b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii part\r\n\
         --=_b\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n\
         --=_b--\r\n"
    )
}

/// Sends what `compose` writes under a new Message-ID tagged `tag` to
/// `port` and checks it was delivered: the report, the Message-ID and the
/// text sent.
async fn send(
    port: u16,
    tag: &str,
    compose: fn(&str) -> String,
) -> (SessionReport, String, String) {
    let servers = real::servers();
    let settings = real::settings(&servers, port, TlsMode::None);
    let id = real::message_id(tag);
    let text = compose(&id);
    let message = Outgoing::new(
        Envelope::new("fax@example.test", vec!["jms1@jms1.net".to_string()]),
        Body::Bytes(text.as_bytes().to_vec()),
    );
    let report = Submitter::new(settings).send(vec![message]).await;
    real::assert_delivered(&report);
    (report, id, text)
}

fn arrived(id: &str) -> Vec<u8> {
    real::arrived(&real::servers(), id)
}

/// What a reader sees: the subject, the From name, and every part decoded
/// (line ends as LF: the Maildir keeps LF, the message was sent with CRLF).
fn read(bytes: &[u8]) -> (Option<String>, Option<String>, Vec<Vec<u8>>) {
    let message = MessageParser::new().parse(bytes).unwrap();
    let name = message
        .from()
        .and_then(|from| from.first())
        .and_then(|a| a.name())
        .map(str::to_string);
    let parts = message
        .parts
        .iter()
        .skip(usize::from(message.parts.len() > 1))
        .map(|part| {
            let mut bytes = part.contents().to_vec();
            bytes.retain(|&b| b != b'\r');
            bytes
        })
        .collect();
    (message.subject().map(str::to_string), name, parts)
}

/// Not a single 8-bit byte arrived.
fn assert_7bit(got: &[u8]) {
    assert!(
        !got.iter().any(|&b| b >= 0x80),
        "{}",
        String::from_utf8_lossy(got)
    );
}

fn body_of(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    text.split_once("\n\n")
        .map(|(_, b)| b.as_bytes().to_vec())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_8bit_message_goes_with_body_8bitmime_and_arrives_intact() {
    let servers = real::servers();
    let (report, id, text) = send(servers.smtp_plain_port, "8bitmime", single_part).await;
    let transcript = report.transcript.to_string();
    assert!(transcript.contains(" BODY=8BITMIME"), "{transcript}");
    assert!(!transcript.contains("made 7-bit"), "{transcript}");
    let got = arrived(&id);
    assert_eq!(body_of(&got), body_of(text.as_bytes()));
    assert!(
        String::from_utf8_lossy(&got).contains("Subject: Grüße aus Köln: Fax über 3 Seiten"),
        "header text arrives as written"
    );
}

#[tokio::test]
async fn without_8bitmime_a_single_part_message_is_re_encoded_and_reads_the_same() {
    let servers = real::servers();
    let (report, id, text) = send(servers.no8bitmime_port, "no8bitmime", single_part).await;
    let transcript = report.transcript.to_string();
    assert!(!transcript.contains("BODY=8BITMIME"), "{transcript}");
    assert!(
        report.transcript.notes().any(|n| n
            == "the server does not offer 8BITMIME: the message was made 7-bit before sending \
                (1 part(s) re-encoded as quoted-printable, 2 header field(s) written as RFC \
                2047 encoded-words)"),
        "{transcript}"
    );
    let got = arrived(&id);
    assert_7bit(&got);
    let got_text = String::from_utf8_lossy(&got);
    assert!(
        got_text.contains("Content-Transfer-Encoding: quoted-printable"),
        "{got_text}"
    );
    assert_eq!(read(&got), read(text.as_bytes()));
    assert_eq!(
        read(&got).0.as_deref(),
        Some("Grüße aus Köln: Fax über 3 Seiten")
    );
}

#[tokio::test]
async fn without_8bitmime_only_the_8bit_parts_of_a_multipart_message_change() {
    let servers = real::servers();
    let (report, id, text) = send(servers.no8bitmime_port, "no8bitmime-multi", multipart).await;
    assert!(!report.transcript.to_string().contains("BODY=8BITMIME"));
    let got = arrived(&id);
    assert_7bit(&got);
    let got_text = String::from_utf8_lossy(&got).replace("\r\n", "\n");
    assert!(
        got_text.contains("Content-Type: text/plain; charset=us-ascii\n\nplain ascii part\n"),
        "{got_text}"
    );
    assert!(got_text.contains("\nAAECAwQF\n"), "{got_text}");
    let (subject, _, parts) = read(&got);
    assert_eq!(subject.as_deref(), Some("Anhang für Sie"));
    assert_eq!(parts, read(text.as_bytes()).2);
    assert_eq!(parts[0], "Übersicht: 2 Seiten, Empfänger Müller".as_bytes());
}
