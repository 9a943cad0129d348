//! What a sender asks of delivery status notifications (RFC 3461): when
//! the servers down the line report back (`NOTIFY=`), how much of the
//! message a report carries (`RET=`), and the job's name in those reports
//! (`ENVID=`). The words are parsed here once, for `[VMAIL] dsn-notify` and
//! `dsn-return`, a `.job`'s `notify =` and `ret =`, and the shim's `-N` and
//! `-R`; the session sends them only to a server that offers DSN.

use std::fmt;
use thiserror::Error;

/// `NOTIFY=`: never, or any of success, failure and delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DsnNotify {
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

/// `RET=`: the whole message or its header in a failure report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnReturn {
    Full,
    Headers,
}

/// Why a word is not a DSN setting. The texts read after a key's name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DsnError {
    #[error(
        "\"{text}\" is not a DSN notify list: give `never`, or one or more of `success`, `failure`, `delay` separated by commas"
    )]
    Notify { text: String },
    #[error("\"{text}\" is not a DSN return: give `full` or `headers`")]
    Return { text: String },
}

impl DsnNotify {
    /// `never` alone, or a comma (or space) separated list of `success`,
    /// `failure` and `delay`, in any case. sendmail's `-N` spells the same.
    pub fn parse(text: &str) -> Result<DsnNotify, DsnError> {
        let bad = || DsnError::Notify {
            text: text.to_string(),
        };
        let words: Vec<&str> = text
            .split([',', ' ', '\t'])
            .filter(|word| !word.is_empty())
            .collect();
        if words.is_empty() {
            return Err(bad());
        }
        if words.len() == 1 && words[0].eq_ignore_ascii_case("never") {
            return Ok(DsnNotify::default());
        }
        let mut notify = DsnNotify::default();
        for word in words {
            match word.to_ascii_lowercase().as_str() {
                "success" => notify.success = true,
                "failure" => notify.failure = true,
                "delay" => notify.delay = true,
                _ => return Err(bad()),
            }
        }
        Ok(notify)
    }

    /// `NEVER`: no word set.
    pub fn is_never(&self) -> bool {
        !(self.success || self.failure || self.delay)
    }
}

/// The value of `NOTIFY=` (`NEVER` or `SUCCESS,FAILURE,DELAY`'s subset).
impl fmt::Display for DsnNotify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_never() {
            return f.write_str("NEVER");
        }
        let words = [
            (self.success, "SUCCESS"),
            (self.failure, "FAILURE"),
            (self.delay, "DELAY"),
        ];
        let list: Vec<&str> = words
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect();
        f.write_str(&list.join(","))
    }
}

impl DsnReturn {
    /// `full` or `headers` (also `hdrs`, the wire's and sendmail's word).
    pub fn parse(text: &str) -> Result<DsnReturn, DsnError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(DsnReturn::Full),
            "headers" | "hdrs" => Ok(DsnReturn::Headers),
            _ => Err(DsnError::Return {
                text: text.to_string(),
            }),
        }
    }
}

/// The value of `RET=`.
impl fmt::Display for DsnReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DsnReturn::Full => "FULL",
            DsnReturn::Headers => "HDRS",
        })
    }
}

/// A job's DSN request. Unset fields fall back to `[VMAIL] dsn-notify` and
/// `dsn-return` ([`Dsn::or`]); all unset sends nothing, and the servers use
/// their defaults (a failure report to the sender).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    pub notify: Option<DsnNotify>,
    pub ret: Option<DsnReturn>,
    /// The job's name in the reports; set by whoever sends the job (its id).
    pub envid: Option<String>,
}

impl Dsn {
    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.notify.is_none() && self.ret.is_none() && self.envid.is_none()
    }

    /// This request, with `defaults` where it says nothing.
    pub fn or(&self, defaults: &Dsn) -> Dsn {
        Dsn {
            notify: self.notify.or(defaults.notify),
            ret: self.ret.or(defaults.ret),
            envid: self.envid.clone().or_else(|| defaults.envid.clone()),
        }
    }
}

/// RFC 3461's xtext: `+XX` for `+`, `=`, and bytes outside `!`..`~`, so that
/// an ENVID can never break the command line it is on.
pub fn xtext(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (b'!'..=b'~').contains(&byte) && byte != b'+' && byte != b'=' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("+{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_lists_parse_in_any_case_and_print_as_on_the_wire() {
        let all = DsnNotify::parse("Success, failure,DELAY").unwrap();
        assert_eq!(all.to_string(), "SUCCESS,FAILURE,DELAY");
        assert_eq!(DsnNotify::parse("never").unwrap().to_string(), "NEVER");
        assert_eq!(DsnNotify::parse("delay").unwrap().to_string(), "DELAY");
        for bad in ["", "never,success", "sucess", ","] {
            assert_eq!(
                DsnNotify::parse(bad).unwrap_err().to_string(),
                format!(
                    "\"{bad}\" is not a DSN notify list: give `never`, or one or more of \
                     `success`, `failure`, `delay` separated by commas"
                )
            );
        }
    }

    #[test]
    fn returns_parse_both_spellings() {
        assert_eq!(DsnReturn::parse("FULL").unwrap(), DsnReturn::Full);
        assert_eq!(DsnReturn::parse("hdrs").unwrap().to_string(), "HDRS");
        assert_eq!(DsnReturn::parse("headers").unwrap(), DsnReturn::Headers);
        assert_eq!(
            DsnReturn::parse("body").unwrap_err().to_string(),
            "\"body\" is not a DSN return: give `full` or `headers`"
        );
    }

    #[test]
    fn a_job_request_falls_back_field_by_field() {
        let defaults = Dsn {
            notify: Some(DsnNotify::parse("failure").unwrap()),
            ret: Some(DsnReturn::Headers),
            envid: None,
        };
        let job = Dsn {
            notify: Some(DsnNotify::parse("success").unwrap()),
            ..Dsn::default()
        };
        let both = job.or(&defaults);
        assert_eq!(both.notify.unwrap().to_string(), "SUCCESS");
        assert_eq!(both.ret, Some(DsnReturn::Headers));
        assert!(Dsn::default().is_empty());
    }

    #[test]
    fn xtext_escapes_plus_equals_and_what_is_not_printable() {
        assert_eq!(xtext("20261202-010203-00ab"), "20261202-010203-00ab");
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("ö"), "+C3+B6");
    }
}
