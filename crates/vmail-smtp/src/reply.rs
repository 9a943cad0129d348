//! Server replies and EHLO extensions, parsed by `smtp-proto` (Stalwart's
//! parser) rather than by hand.

use crate::error::ProtocolError;
use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{EhloResponse, Response};
use vmail_core::{EnhancedCode, Reply};

/// The most bytes one reply may take, all its lines as received. smtp-proto
/// stops a reply at 4 kB of text, but lines without text (`250-` alone)
/// add none and are read on for ever; this bounds the raw bytes kept for
/// the transcript, so a server cannot fill the memory before the timeout.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Feeds bytes as they arrive; yields a [`Reply`] and the raw bytes it was
/// made of (for the transcript and the EHLO parser) once it is complete.
#[derive(Default)]
pub(crate) struct ReplyParser {
    receiver: ResponseReceiver,
    raw: Vec<u8>,
}

/// A reply and its wire form.
pub(crate) struct RawReply {
    pub reply: Reply,
    pub raw: Vec<u8>,
}

impl ReplyParser {
    /// Consumes what it can of `buf` (removing it) and returns a complete
    /// reply, `Ok(None)` when more bytes are needed.
    pub fn feed(&mut self, buf: &mut Vec<u8>) -> Result<Option<RawReply>, ProtocolError> {
        let mut iter = buf.iter();
        let result = self.receiver.parse(&mut iter);
        let consumed = buf.len() - iter.len();
        self.raw.extend_from_slice(&buf[..consumed]);
        buf.drain(..consumed);
        match result {
            Ok(response) => {
                self.receiver.reset();
                let raw = std::mem::take(&mut self.raw);
                same_code_on_every_line(&raw)?;
                if !(100..600).contains(&response.code) {
                    return Err(ProtocolError::BadCode {
                        code: response.code,
                    });
                }
                Ok(Some(RawReply {
                    reply: to_reply(response),
                    raw,
                }))
            }
            Err(smtp_proto::Error::NeedsMoreData { .. }) if self.raw.len() > MAX_REPLY_BYTES => {
                self.receiver.reset();
                self.raw.clear();
                Err(ProtocolError::TooLong {
                    limit: MAX_REPLY_BYTES,
                })
            }
            Err(smtp_proto::Error::NeedsMoreData { .. }) => Ok(None),
            Err(error) => {
                self.receiver.reset();
                self.raw.clear();
                Err(ProtocolError::Unparsable {
                    parser: format!("{error:?}"),
                })
            }
        }
    }

    /// Bytes taken from the buffer that are not yet part of a reply.
    pub fn pending(&self) -> usize {
        self.raw.len()
    }
}

/// RFC 5321 section 4.2.1: every line of a multi-line reply carries the
/// same code. smtp-proto takes the first line's code and reads on, so
/// `250-ok` followed by `451 try later` would read as 250; such a reply is a
/// protocol error (which defers the job) rather than a guess.
fn same_code_on_every_line(raw: &[u8]) -> Result<(), ProtocolError> {
    let mut lines = raw.split(|&b| b == b'\n').filter(|line| !line.is_empty());
    let code = |line: &[u8]| String::from_utf8_lossy(&line[..line.len().min(3)]).into_owned();
    let Some(first) = lines.next().map(code) else {
        return Ok(());
    };
    match lines.map(code).find(|other| *other != first) {
        Some(other) => Err(ProtocolError::MixedCodes { first, other }),
        None => Ok(()),
    }
}

fn to_reply(response: Response<String>) -> Reply {
    let [class, subject, detail] = response.esc;
    let enhanced = (class != 0).then(|| EnhancedCode::new(class, subject.into(), detail.into()));
    Reply::new(response.code, enhanced, printable(response.message))
}

/// A reply's text as it may be logged, shown and quoted in a notice: lines
/// joined by `\n` only (smtp-proto keeps a CR of some short lines), and no
/// other control character (a hostile server's terminal escapes become `?`).
fn printable(text: String) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text;
    }
    text.replace("\r\n", "\n")
        .chars()
        .filter(|&c| c != '\r')
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// What the server announced in its EHLO reply (all false and empty after
/// HELO).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub starttls: bool,
    /// The AUTH mechanisms offered, as the server names them (known ones).
    pub auth: Vec<String>,
    /// `SIZE` was announced; the limit when it named one (0 = no limit).
    pub size: Option<u64>,
    pub pipelining: bool,
    pub eight_bit_mime: bool,
    pub enhanced_status_codes: bool,
    pub smtputf8: bool,
    /// Delivery status notifications (RFC 3461): NOTIFY, RET, ENVID.
    pub dsn: bool,
    auth_bits: u64,
}

/// The mechanisms vmail knows by name, for messages listing what a server
/// offers.
const MECHANISMS: &[(u64, &str)] = &[
    (smtp_proto::AUTH_PLAIN, "PLAIN"),
    (smtp_proto::AUTH_LOGIN, "LOGIN"),
    (smtp_proto::AUTH_CRAM_MD5, "CRAM-MD5"),
    (smtp_proto::AUTH_DIGEST_MD5, "DIGEST-MD5"),
    (smtp_proto::AUTH_SCRAM_SHA_1, "SCRAM-SHA-1"),
    (smtp_proto::AUTH_SCRAM_SHA_256, "SCRAM-SHA-256"),
    (smtp_proto::AUTH_XOAUTH2, "XOAUTH2"),
    (smtp_proto::AUTH_OAUTHBEARER, "OAUTHBEARER"),
    (smtp_proto::AUTH_GSSAPI, "GSSAPI"),
    (smtp_proto::AUTH_NTLM, "NTLM"),
    (smtp_proto::AUTH_EXTERNAL, "EXTERNAL"),
    (smtp_proto::AUTH_ANONYMOUS, "ANONYMOUS"),
];

impl Extensions {
    /// Parses the raw bytes of a 250 reply to EHLO.
    pub(crate) fn parse(raw: &[u8]) -> Result<Extensions, ProtocolError> {
        let ehlo = EhloResponse::parse(&mut raw.iter()).map_err(|e| ProtocolError::Unparsable {
            parser: format!("{e:?}"),
        })?;
        let has = |flag: u32| ehlo.capabilities & flag != 0;
        let auth = MECHANISMS
            .iter()
            .filter(|(bit, _)| ehlo.auth_mechanisms & bit != 0)
            .map(|(_, name)| (*name).to_string())
            .collect();
        Ok(Extensions {
            starttls: has(smtp_proto::EXT_START_TLS),
            auth,
            size: has(smtp_proto::EXT_SIZE).then_some(ehlo.size as u64),
            pipelining: has(smtp_proto::EXT_PIPELINING),
            eight_bit_mime: has(smtp_proto::EXT_8BIT_MIME),
            enhanced_status_codes: has(smtp_proto::EXT_ENHANCED_STATUS_CODES),
            smtputf8: has(smtp_proto::EXT_SMTP_UTF8),
            dsn: has(smtp_proto::EXT_DSN),
            auth_bits: ehlo.auth_mechanisms,
        })
    }

    /// Whether AUTH was announced at all.
    pub fn offers_auth(&self) -> bool {
        self.auth_bits != 0
    }

    /// Whether a mechanism (by its SASL name) is offered.
    pub fn offers(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m.eq_ignore_ascii_case(mechanism))
    }

    /// The server's SIZE limit, when it announced one.
    pub fn size_limit(&self) -> Option<u64> {
        self.size.filter(|&limit| limit > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Vec<Reply> {
        let mut parser = ReplyParser::default();
        let mut buf = bytes.to_vec();
        let mut out = Vec::new();
        while let Ok(Some(raw)) = parser.feed(&mut buf) {
            out.push(raw.reply);
        }
        out
    }

    #[test]
    fn multi_line_replies_keep_every_line_and_the_enhanced_code() {
        let replies = parse_all(
            b"220-mail.example.com ESMTP\r\n220 no UCE\r\n535 5.7.8 Error: authentication failed\r\n",
        );
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].code, 220);
        assert_eq!(replies[0].text, "mail.example.com ESMTP\nno UCE");
        assert_eq!(
            replies[1].to_string(),
            "535 5.7.8 Error: authentication failed"
        );
    }

    #[test]
    fn a_reply_split_across_reads_is_completed() -> Result<(), Box<dyn std::error::Error>> {
        let mut parser = ReplyParser::default();
        let mut buf = b"250-first\r\n25".to_vec();
        assert!(parser.feed(&mut buf)?.is_none());
        buf.extend_from_slice(b"0 2.1.0 Ok\r\n354 go\r\n");
        let raw = parser.feed(&mut buf)?.ok_or("no reply")?;
        assert_eq!(raw.raw, b"250-first\r\n250 2.1.0 Ok\r\n");
        assert_eq!(raw.reply.code, 250);
        assert_eq!(buf, b"354 go\r\n");
        Ok(())
    }

    #[test]
    fn a_reply_whose_lines_carry_different_codes_is_an_error() {
        let mut parser = ReplyParser::default();
        let mut buf = b"250-accepted\r\n451 4.3.0 try again later\r\n220 next\r\n".to_vec();
        assert_eq!(
            parser
                .feed(&mut buf)
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("a multi-line reply changes its code from 250 to 451")
        );
        let mut buf = b"250-a\n250-b\r\n250 c\r\n".to_vec();
        assert!(matches!(parser.feed(&mut buf), Ok(Some(raw)) if raw.reply.text == "a\nb\nc"));
    }

    /// A server that never ends a multi-line reply: cut off, with text
    /// (smtp-proto's 4 kB) or without (this parser's 64 kB).
    #[test]
    fn a_reply_that_never_ends_is_cut_off() {
        let cases: [(&[u8], &str); 2] = [
            (
                b"250-\r\n",
                "the reply is longer than 65536 bytes and has not ended",
            ),
            (b"250-this reply never ends\r\n", "ResponseTooLong"),
        ];
        for (line, expected) in cases {
            let mut parser = ReplyParser::default();
            let mut fed = 0;
            let error = loop {
                let mut buf = line.to_vec();
                fed += line.len();
                assert!(fed < 2 * MAX_REPLY_BYTES, "no end after {fed} bytes");
                if let Err(why) = parser.feed(&mut buf) {
                    break why;
                }
            };
            assert_eq!(error.to_string(), expected);
            assert_eq!(parser.pending(), 0);
        }
    }

    #[test]
    fn reply_text_has_no_carriage_return_or_escape() {
        let replies = parse_all(b"250-8\r\n250 SIZE\r\n550 5.0.0 no\x1b[2Jway\tsir\r\n");
        assert_eq!(replies[0].text, "8\nSIZE");
        assert_eq!(replies[1].text, "no?[2Jway\tsir");
    }

    #[test]
    fn a_code_outside_1xx_to_5xx_is_an_error() {
        for (bytes, code) in [(&b"021 hi\r\n"[..], "021"), (b"650 hi\r\n", "650")] {
            let mut buf = bytes.to_vec();
            let err = ReplyParser::default().feed(&mut buf).err();
            assert_eq!(
                err.map(|e| e.to_string()),
                Some(format!(
                    "reply code {code} is not an SMTP reply code (1xx to 5xx)"
                ))
            );
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let mut parser = ReplyParser::default();
        let mut buf = b"hello there\r\n".to_vec();
        assert!(parser.feed(&mut buf).is_err());
    }

    #[test]
    fn ehlo_extensions_are_read() -> Result<(), ProtocolError> {
        let ext = Extensions::parse(
            b"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n\
              250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
              250 SMTPUTF8\r\n",
        )?;
        assert!(ext.starttls && ext.pipelining && ext.eight_bit_mime);
        assert!(ext.enhanced_status_codes && ext.smtputf8 && ext.offers_auth());
        assert_eq!(ext.auth, vec!["PLAIN", "LOGIN", "CRAM-MD5"]);
        assert!(ext.offers("cram-md5"));
        assert_eq!(ext.size_limit(), Some(10_240_000));
        let bare = Extensions::parse(b"250-x\r\n250 SIZE\r\n")?;
        assert_eq!((bare.size, bare.size_limit()), (Some(0), None));
        assert!(!bare.offers_auth() && !bare.starttls);
        Ok(())
    }
}
