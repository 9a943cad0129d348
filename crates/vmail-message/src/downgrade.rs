//! A message with 8-bit bytes made 7-bit for a server that offers no
//! 8BITMIME (RFC 6152), the way Postfix's `mime_state` downgrade does it:
//! every leaf part whose body has 8-bit bytes is re-encoded (text as
//! quoted-printable, anything else as base64) and its
//! `Content-Transfer-Encoding` says so; multipart bodies and attached
//! messages are walked part by part, and their own `8bit` label becomes
//! `7bit`. Postfix leaves 8-bit header text alone; here it becomes RFC 2047
//! encoded-words, so that nothing 8-bit reaches the server at all.
//!
//! Everything that was 7-bit already is kept byte for byte, line ends
//! included; a 7-bit message comes back unchanged.

use base64::Engine;

/// How deep parts may nest before the rest is treated as one leaf (a
/// hostile message cannot make the walk recurse without bound).
const MAX_DEPTH: usize = 32;
/// The longest line of a folded header field (RFC 5322 asks for 78).
const FOLD_AT: usize = 76;
/// Bytes of text in one encoded-word: 45 bytes are 60 base64 characters,
/// so `=?UTF-8?B?...?=` stays within RFC 2047's 75.
const WORD_BYTES: usize = 45;

/// What [`to_7bit`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Downgrade {
    /// The message, 7-bit.
    pub message: Vec<u8>,
    /// Bodies re-encoded as quoted-printable.
    pub quoted_printable: usize,
    /// Bodies re-encoded as base64 (8-bit parts that are not text).
    pub base64: usize,
    /// Header fields whose 8-bit text became encoded-words.
    pub headers: usize,
}

impl Downgrade {
    /// Whether anything had to change.
    pub fn changed(&self) -> bool {
        self.quoted_printable + self.base64 + self.headers > 0
    }

    /// One sentence for the job's log.
    pub fn summary(&self) -> String {
        let mut what = Vec::new();
        if self.quoted_printable > 0 {
            what.push(format!(
                "{} part(s) re-encoded as quoted-printable",
                self.quoted_printable
            ));
        }
        if self.base64 > 0 {
            what.push(format!("{} part(s) re-encoded as base64", self.base64));
        }
        if self.headers > 0 {
            what.push(format!(
                "{} header field(s) written as RFC 2047 encoded-words",
                self.headers
            ));
        }
        if what.is_empty() {
            "nothing to re-encode".to_string()
        } else {
            what.join(", ")
        }
    }
}

/// Whether any byte has its high bit set.
pub fn has_8bit(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b >= 0x80)
}

/// The message made 7-bit (see the module's documentation).
pub fn to_7bit(message: &[u8]) -> Downgrade {
    let mut out = Downgrade {
        message: Vec::with_capacity(message.len() + message.len() / 8),
        ..Downgrade::default()
    };
    if !has_8bit(message) {
        out.message.extend_from_slice(message);
        return out;
    }
    let eol = if message.windows(2).any(|w| w == b"\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut walk = Walk {
        eol,
        out: std::mem::take(&mut out.message),
        stats: out,
    };
    walk.entity(message, Default::default(), 0);
    let mut stats = walk.stats;
    stats.message = walk.out;
    stats
}

/// What a part is when its header does not say (RFC 2046: text/plain,
/// but message/rfc822 inside multipart/digest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum DefaultType {
    #[default]
    Text,
    Message,
}

struct Walk {
    eol: &'static str,
    out: Vec<u8>,
    stats: Downgrade,
}

/// One header field: its lines as written, and its name.
struct Field<'a> {
    raw: &'a [u8],
    name: String,
}

/// What a part's header says about its body.
#[derive(Debug, Default)]
struct Kind {
    /// `type/subtype`, lower case; empty when not said.
    mime: String,
    boundary: Option<String>,
}

impl Walk {
    /// One entity: header, blank line, body.
    fn entity(&mut self, bytes: &[u8], default: DefaultType, depth: usize) {
        let (fields, rest) = split_header(bytes);
        let kind = kind_of(&fields, default);
        let body = rest;
        let eight_bit_body = has_8bit(body);
        let recode = if depth >= MAX_DEPTH {
            eight_bit_body.then(|| leaf_encoding(&kind))
        } else if (kind.mime.starts_with("multipart/") && kind.boundary.is_some())
            || is_message(&kind)
        {
            None
        } else {
            eight_bit_body.then(|| leaf_encoding(&kind))
        };
        let composite = recode.is_none() && depth < MAX_DEPTH && eight_bit_body;
        self.header(&fields, recode, composite);
        match recode {
            Some(Encoding::QuotedPrintable) => {
                self.stats.quoted_printable += 1;
                self.blank_line(body);
                let text = quoted_printable::encode(crlf(strip_blank_line(body)));
                self.push_lines(&text);
            }
            Some(Encoding::Base64) => {
                self.stats.base64 += 1;
                self.blank_line(body);
                self.base64(strip_blank_line(body));
            }
            None if !eight_bit_body => self.out.extend_from_slice(body),
            None if is_message(&kind) && depth < MAX_DEPTH => {
                self.blank_line(body);
                self.entity(strip_blank_line(body), DefaultType::Text, depth + 1);
            }
            None => {
                let boundary = kind.boundary.clone().unwrap_or_default();
                let inner = if kind.mime == "multipart/digest" {
                    DefaultType::Message
                } else {
                    DefaultType::Text
                };
                self.multipart(body, &boundary, inner, depth + 1);
            }
        }
    }

    /// The header: 8-bit fields as encoded-words, and the
    /// Content-Transfer-Encoding replaced (or added) when the body is
    /// re-encoded, or set to 7bit on a composite that said 8bit.
    fn header(&mut self, fields: &[Field<'_>], recode: Option<Encoding>, composite: bool) {
        let mut cte_written = false;
        for field in fields {
            if field.name == "content-transfer-encoding" {
                if let Some(encoding) = recode {
                    self.push_field("Content-Transfer-Encoding", encoding.name());
                    cte_written = true;
                    continue;
                }
                if composite {
                    self.push_field("Content-Transfer-Encoding", "7bit");
                    cte_written = true;
                    continue;
                }
            }
            if has_8bit(field.raw) {
                self.stats.headers += 1;
                self.encoded_field(field);
            } else {
                self.out.extend_from_slice(field.raw);
            }
        }
        if let (false, Some(encoding)) = (cte_written, recode) {
            self.push_field("Content-Transfer-Encoding", encoding.name());
        }
    }

    fn push_field(&mut self, name: &str, value: &str) {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value.as_bytes());
        self.out.extend_from_slice(self.eol.as_bytes());
    }

    /// A field with 8-bit text: unfolded, its 8-bit words (and quoted
    /// strings) turned into encoded-words, folded again.
    fn encoded_field(&mut self, field: &Field<'_>) {
        let raw = field.raw;
        let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
        let name = String::from_utf8_lossy(&raw[..colon]).into_owned();
        let value: Vec<u8> = unfold(raw.get(colon + 1..).unwrap_or_default());
        let structured = matches!(
            field.name.as_str(),
            "from" | "to" | "cc" | "bcc" | "reply-to" | "sender"
        );
        let words = encode_words(&value, structured);
        let mut line_len = name.len() + 1;
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b':');
        for word in words {
            if line_len + 1 + word.len() > FOLD_AT {
                self.out.extend_from_slice(self.eol.as_bytes());
                line_len = 0;
            }
            self.out.push(b' ');
            self.out.extend_from_slice(word.as_bytes());
            line_len += 1 + word.len();
        }
        self.out.extend_from_slice(self.eol.as_bytes());
    }

    /// The blank line between header and body, as written.
    fn blank_line(&mut self, body: &[u8]) {
        let blank = body.len() - strip_blank_line(body).len();
        self.out.extend_from_slice(&body[..blank]);
    }

    /// Encoder output (CRLF lines) in the message's own line ends.
    fn push_lines(&mut self, text: &[u8]) {
        if self.eol == "\r\n" {
            self.out.extend_from_slice(text);
        } else {
            self.out
                .extend(text.iter().copied().filter(|&byte| byte != b'\r'));
        }
    }

    fn base64(&mut self, bytes: &[u8]) {
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        for line in text.as_bytes().chunks(76) {
            self.out.extend_from_slice(line);
            self.out.extend_from_slice(self.eol.as_bytes());
        }
    }

    /// A multipart body: preamble, each part between `--boundary` lines,
    /// the closing `--boundary--` and the epilogue.
    fn multipart(&mut self, body: &[u8], boundary: &str, inner: DefaultType, depth: usize) {
        let open = format!("--{boundary}");
        let mut part_start: Option<usize> = None;
        let mut at = 0;
        let mut closed = false;
        while at < body.len() {
            let end = body[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(body.len(), |i| at + i + 1);
            let line = &body[at..end];
            let trimmed = trim_eol(line);
            let is_open = trimmed.starts_with(open.as_bytes())
                && trimmed[open.len()..]
                    .iter()
                    .all(|&b| b == b' ' || b == b'\t' || b == b'-');
            if is_open && !closed {
                let close = trimmed[open.len()..].starts_with(b"--");
                match part_start {
                    // The part ends before the line end that precedes the
                    // boundary line: that line end belongs to the boundary.
                    Some(start) => {
                        let part = strip_trailing_eol(&body[start..at]);
                        self.entity(part, inner, depth);
                        self.out.extend_from_slice(&body[start + part.len()..at]);
                    }
                    None => self.seven_bit_text(&body[..at]),
                }
                self.out.extend_from_slice(line);
                part_start = Some(end);
                closed = close;
                if close {
                    self.seven_bit_text(&body[end..]);
                    return;
                }
            }
            at = end;
        }
        // No closing boundary: what follows the last opening is a part.
        match part_start {
            Some(start) => self.entity(&body[start..], inner, depth),
            None => self.seven_bit_text(body),
        }
    }

    /// Text nobody reads (a preamble or epilogue), quoted-printable when
    /// it has 8-bit bytes so that none reaches the server.
    fn seven_bit_text(&mut self, text: &[u8]) {
        if has_8bit(text) {
            let encoded = quoted_printable::encode(crlf(text));
            self.push_lines(&encoded);
        } else {
            self.out.extend_from_slice(text);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    QuotedPrintable,
    Base64,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::QuotedPrintable => "quoted-printable",
            Encoding::Base64 => "base64",
        }
    }
}

/// Text (and parts that say nothing) as quoted-printable, the rest base64.
fn leaf_encoding(kind: &Kind) -> Encoding {
    if kind.mime.is_empty() || kind.mime.starts_with("text/") {
        Encoding::QuotedPrintable
    } else {
        Encoding::Base64
    }
}

fn is_message(kind: &Kind) -> bool {
    matches!(kind.mime.as_str(), "message/rfc822" | "message/global")
}

/// The header fields, and the rest (the blank line and the body).
fn split_header(bytes: &[u8]) -> (Vec<Field<'_>>, &[u8]) {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i + 1);
        let line = &bytes[at..end];
        if trim_eol(line).is_empty() {
            break;
        }
        let continuation = line[0] == b' ' || line[0] == b'\t';
        match (continuation, fields.last_mut()) {
            (true, Some(last)) => {
                let start = last.raw.as_ptr() as usize - bytes.as_ptr() as usize;
                last.raw = &bytes[start..end];
            }
            _ => {
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    break;
                };
                fields.push(Field {
                    raw: line,
                    name: String::from_utf8_lossy(&line[..colon])
                        .trim()
                        .to_ascii_lowercase(),
                });
            }
        }
        at = end;
    }
    (fields, &bytes[at..])
}

/// Content-Type's type and boundary.
fn kind_of(fields: &[Field<'_>], default: DefaultType) -> Kind {
    let Some(field) = fields.iter().find(|f| f.name == "content-type") else {
        return Kind {
            mime: match default {
                DefaultType::Text => String::new(),
                DefaultType::Message => "message/rfc822".to_string(),
            },
            boundary: None,
        };
    };
    let colon = field.raw.iter().position(|&b| b == b':').unwrap_or(0);
    let value = String::from_utf8_lossy(&unfold(&field.raw[colon + 1..])).into_owned();
    let mut params = value.split(';');
    let mime = params
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let boundary = params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    });
    Kind { mime, boundary }
}

fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    while out.last().is_some_and(|b| b.is_ascii_whitespace()) {
        out.pop();
    }
    let start = out
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(out.len());
    out.drain(..start);
    out
}

/// Text with every line end CRLF, as the quoted-printable encoder wants
/// them (it would encode a bare LF as `=0A`).
fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 32);
    let mut previous = 0u8;
    for &byte in text {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    out
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn strip_trailing_eol(bytes: &[u8]) -> &[u8] {
    if let Some(rest) = bytes.strip_suffix(b"\r\n") {
        rest
    } else {
        bytes.strip_suffix(b"\n").unwrap_or(bytes)
    }
}

fn strip_blank_line(body: &[u8]) -> &[u8] {
    if let Some(rest) = body.strip_prefix(b"\r\n") {
        rest
    } else {
        body.strip_prefix(b"\n").unwrap_or(body)
    }
}

/// A field value as words for folding: 7-bit words kept, runs of 8-bit
/// words as encoded-words. In address fields a quoted string with 8-bit
/// text is encoded without its quotes, and list punctuation stays
/// outside the encoded-words; other fields are text, encoded as written.
fn encode_words(value: &[u8], structured: bool) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut run: Vec<u8> = Vec::new();
    for token in tokens(value, structured) {
        if has_8bit(&token.text) {
            if !run.is_empty() {
                run.push(b' ');
            }
            run.extend_from_slice(&token.text);
            if !token.glued.is_empty() {
                let mut encoded = encoded_words(&run);
                run.clear();
                if let Some(last) = encoded.last_mut() {
                    last.push_str(&String::from_utf8_lossy(&token.glued));
                }
                words.extend(encoded);
            }
            continue;
        }
        if !run.is_empty() {
            words.extend(encoded_words(&run));
            run.clear();
        }
        let mut word = String::from_utf8_lossy(&token.text).into_owned();
        word.push_str(&String::from_utf8_lossy(&token.glued));
        words.push(word);
    }
    if !run.is_empty() {
        words.extend(encoded_words(&run));
    }
    words
}

/// A word of a field value: its text (a quoted string without its quotes
/// when it holds 8-bit bytes) and punctuation glued after it (`<`
/// starting the next, or `,` ending this one stays outside the
/// encoded-word, where RFC 2047 wants it).
struct Token {
    text: Vec<u8>,
    glued: Vec<u8>,
}

fn tokens(value: &[u8], structured: bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        while at < value.len() && value[at].is_ascii_whitespace() {
            at += 1;
        }
        if at >= value.len() {
            return out;
        }
        out.push(match value[at] {
            _ if !structured => unstructured_word(value, &mut at),
            b'"' => quoted_string(value, &mut at),
            _ => structured_word(value, &mut at),
        });
    }
}

/// Text up to the next white space: in an unstructured field (Subject)
/// every word stands alone.
fn unstructured_word(value: &[u8], at: &mut usize) -> Token {
    let start = *at;
    while *at < value.len() && !value[*at].is_ascii_whitespace() {
        *at += 1;
    }
    Token {
        text: value[start..*at].to_vec(),
        glued: Vec::new(),
    }
}

/// A quoted string: its content when that holds 8-bit bytes (the
/// encoded-word replaces the quotes), else the quoted string as written.
fn quoted_string(value: &[u8], at: &mut usize) -> Token {
    let mut text = Vec::new();
    let mut end = *at + 1;
    while end < value.len() && value[end] != b'"' {
        if value[end] == b'\\' && end + 1 < value.len() {
            end += 1;
        }
        text.push(value[end]);
        end += 1;
    }
    let quoted = &value[*at..(end + 1).min(value.len())];
    *at = (end + 1).min(value.len());
    let glued = take_glued(value, at);
    if has_8bit(&text) {
        Token { text, glued }
    } else {
        Token {
            text: quoted.to_vec(),
            glued,
        }
    }
}

/// A word of a structured field, up to white space or a quote; `,` or
/// `;` ending an 8-bit word stays outside its encoded-word.
fn structured_word(value: &[u8], at: &mut usize) -> Token {
    let start = *at;
    while *at < value.len() && !value[*at].is_ascii_whitespace() && value[*at] != b'"' {
        *at += 1;
    }
    let word = &value[start..*at];
    let cut = if has_8bit(word) {
        word.len()
            - word
                .iter()
                .rev()
                .take_while(|&&b| b == b',' || b == b';')
                .count()
    } else {
        word.len()
    };
    Token {
        text: word[..cut].to_vec(),
        glued: word[cut..].to_vec(),
    }
}

fn take_glued(value: &[u8], at: &mut usize) -> Vec<u8> {
    let start = *at;
    while *at < value.len() && matches!(value[*at], b',' | b';') {
        *at += 1;
    }
    value[start..*at].to_vec()
}

/// `=?UTF-8?B?...?=` words of at most 75 characters, never splitting a
/// UTF-8 character; bytes that are not UTF-8 are labelled `unknown-8bit`
/// (RFC 1428).
fn encoded_words(text: &[u8]) -> Vec<String> {
    let charset = if std::str::from_utf8(text).is_ok() {
        "UTF-8"
    } else {
        "unknown-8bit"
    };
    let mut words = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let mut end = (at + WORD_BYTES).min(text.len());
        if charset == "UTF-8" {
            while end > at + 1 && end < text.len() && (text[end] & 0xC0) == 0x80 {
                end -= 1;
            }
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&text[at..end]);
        words.push(format!("=?{charset}?B?{b64}?="));
        at = end;
    }
    words
}

#[cfg(test)]
mod tests;
