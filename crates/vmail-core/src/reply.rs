//! An SMTP (or POP3) server's answer, kept whole: administrators diagnose a
//! refusal from the numeric code, the enhanced status code and the text, so
//! none of the three is ever dropped on the way to a log.

use std::fmt;

/// RFC 3463 enhanced status code, e.g. `5.7.8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    pub fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// Parses the `x.y.z` at the start of a reply line, as servers that
    /// announce ENHANCEDSTATUSCODES put it. Returns `None` for anything else.
    pub fn parse_prefix(text: &str) -> Option<(EnhancedCode, &str)> {
        let (token, rest) = match text.find(' ') {
            Some(at) => (&text[..at], &text[at + 1..]),
            None => (text, ""),
        };
        let mut parts = token.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !(2..=5).contains(&class) {
            return None;
        }
        Some((EnhancedCode::new(class, subject, detail), rest))
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete server reply. Multi-line replies keep their lines joined by
/// `\n` in `text`, without the code prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, enhanced: Option<EnhancedCode>, text: impl Into<String>) -> Self {
        Reply {
            code,
            enhanced,
            text: text.into(),
        }
    }

    /// 2xx and 3xx: the server went along with the command.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: do not try this again unchanged.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text on one line, for log lines that must stay one line each.
    pub fn one_line(&self) -> String {
        self.to_string().replace('\n', " / ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_code_is_read_from_the_start_of_the_text() {
        let (code, rest) =
            EnhancedCode::parse_prefix("5.7.8 Error: authentication failed").unwrap();
        assert_eq!(code.to_string(), "5.7.8");
        assert_eq!(rest, "Error: authentication failed");
        assert!(EnhancedCode::parse_prefix("mail.example.com ESMTP").is_none());
        assert!(EnhancedCode::parse_prefix("1.2.3 nope").is_none());
        assert!(EnhancedCode::parse_prefix("5.7 short").is_none());
    }

    #[test]
    fn a_reply_displays_as_the_server_said_it() {
        let reply = Reply::new(
            535,
            Some(EnhancedCode::new(5, 7, 8)),
            "Error: authentication failed",
        );
        assert_eq!(reply.to_string(), "535 5.7.8 Error: authentication failed");
        assert!(reply.is_permanent() && !reply.is_transient() && !reply.is_positive());
        let multi = Reply::new(421, None, "busy\ntry later");
        assert_eq!(multi.one_line(), "421 busy / try later");
    }
}
