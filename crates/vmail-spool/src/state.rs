//! The small mutable record beside each queued message: `<id>.state`.
//!
//! A few `key=value` lines, rewritten whole and atomically (temp file,
//! fsync, rename). Unknown keys are kept out of the way (ignored), so a newer
//! vmail can add keys without an older one choking on them.
//!
//! ```text
//! attempts=2
//! first-queued=2026-11-23T19:42:00Z
//! next-due=2026-11-23T19:46:00Z
//! last-code=451
//! last-enhanced=4.7.1
//! last-text=Greylisted, try again later
//! last-reason=the server deferred the recipient
//! held=no
//! admin-seq=3
//! admin-last=hold
//! ```
//!
//! `held` and the `admin-*` lines belong to the administrator
//! (`vfxadmin queue hold/release/retry`); the rest to the worker that made
//! the attempt. A worker that records an attempt re-reads the record under
//! the job's lock and merges ([`JobState::deferred_over`]), so an action
//! taken while the job was out with a session is never undone.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use vmail_core::{EnhancedCode, Reply, RetryPolicy};

/// What the scheduler knows about a queued job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the job entered the queue (the start of its lifetime).
    pub first_queued: SystemTime,
    /// When to try next; `None` means now.
    pub next_due: Option<SystemTime>,
    /// The last server reply, kept whole (code, enhanced code, text).
    pub last_reply: Option<Reply>,
    /// Why the last attempt did not succeed, when there is no reply
    /// (connection refused, timeout, TLS) or to explain the reply.
    pub last_reason: Option<String>,
    /// Held by an administrator: not tried until released.
    pub held: bool,
    /// Counts the administrator's actions on this job; a worker that finds
    /// it changed since it read the record knows someone acted meanwhile.
    pub admin_seq: u32,
    /// The administrator's last action, to honour it after an attempt that
    /// was under way when it was taken.
    pub admin_last: Option<AdminAction>,
}

/// What an administrator did to a queued job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    Hold,
    Release,
    Retry,
}

impl AdminAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAction::Hold => "hold",
            AdminAction::Release => "release",
            AdminAction::Retry => "retry",
        }
    }

    fn parse(value: &str) -> Option<AdminAction> {
        match value {
            "hold" => Some(AdminAction::Hold),
            "release" => Some(AdminAction::Release),
            "retry" => Some(AdminAction::Retry),
            _ => None,
        }
    }
}

impl JobState {
    /// The state of a job that has never been tried.
    pub fn fresh(first_queued: SystemTime) -> JobState {
        JobState {
            attempts: 0,
            first_queued,
            next_due: None,
            last_reply: None,
            last_reason: None,
            held: false,
            admin_seq: 0,
            admin_last: None,
        }
    }

    /// The record after an administrator's action: hold, release, or retry
    /// now (which also releases).
    pub fn with_admin_action(&self, action: AdminAction) -> JobState {
        let mut next = self.clone();
        match action {
            AdminAction::Hold => next.held = true,
            AdminAction::Release => next.held = false,
            AdminAction::Retry => {
                next.held = false;
                next.next_due = None;
            }
        }
        next.admin_seq = self.admin_seq.wrapping_add(1);
        next.admin_last = Some(action);
        next
    }

    /// The record a worker writes after a deferred attempt, over `self`, the
    /// record as it is on disk now (read under the job's lock), given
    /// `started_from`, the record the attempt started from. The attempt's
    /// facts (count, reply, reason, backoff) are the worker's; the hold
    /// flag is the administrator's, and a retry asked for while the attempt
    /// was under way makes the job due at once. `None`: the lifetime is
    /// spent and the job must fail; a held job never expires while held.
    pub fn deferred_over(
        &self,
        started_from: &JobState,
        now: SystemTime,
        reason: impl Into<String>,
        reply: Option<Reply>,
        policy: &RetryPolicy,
    ) -> Option<JobState> {
        let reason = reason.into();
        let mut next = match self.deferred(now, reason.clone(), reply.clone(), policy) {
            Some(next) => next,
            None if self.held => JobState {
                attempts: self.attempts.saturating_add(1),
                last_reply: reply,
                last_reason: Some(reason),
                ..self.clone()
            },
            None => return None,
        };
        let acted = self.admin_seq != started_from.admin_seq;
        if acted && self.admin_last == Some(AdminAction::Retry) && !self.held {
            next.next_due = None;
        }
        Some(next)
    }

    /// Whether the job should be tried at `now` (not held and due).
    pub fn is_due(&self, now: SystemTime) -> bool {
        !self.held && self.next_due.is_none_or(|due| due <= now)
    }

    /// The state after one more failed attempt that may be retried, or `None`
    /// when the job's lifetime under `policy` is spent (it must fail).
    pub fn deferred(
        &self,
        now: SystemTime,
        reason: impl Into<String>,
        reply: Option<Reply>,
        policy: &RetryPolicy,
    ) -> Option<JobState> {
        let attempts = self.attempts.saturating_add(1);
        let age = now
            .duration_since(self.first_queued)
            .unwrap_or(Duration::ZERO);
        let wait = policy.next_due(attempts, age)?;
        Some(JobState {
            attempts,
            next_due: Some(now + wait),
            last_reply: reply,
            last_reason: Some(reason.into()),
            ..self.clone()
        })
    }

    /// The record as written to disk.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "attempts={}\nfirst-queued={}\n",
            self.attempts,
            format_time(self.first_queued)
        );
        if let Some(due) = self.next_due {
            out.push_str(&format!("next-due={}\n", format_time(due)));
        }
        if let Some(reply) = &self.last_reply {
            out.push_str(&format!("last-code={}\n", reply.code));
            if let Some(enhanced) = reply.enhanced {
                out.push_str(&format!("last-enhanced={enhanced}\n"));
            }
            out.push_str(&format!("last-text={}\n", escape(&reply.text)));
        }
        if let Some(reason) = &self.last_reason {
            out.push_str(&format!("last-reason={}\n", escape(reason)));
        }
        out.push_str(if self.held { "held=yes\n" } else { "held=no\n" });
        if self.admin_seq != 0 {
            out.push_str(&format!("admin-seq={}\n", self.admin_seq));
        }
        if let Some(action) = self.admin_last {
            out.push_str(&format!("admin-last={}\n", action.as_str()));
        }
        out
    }

    /// Parses a record; the error says which line and what is wrong.
    pub fn read(text: &str) -> Result<JobState, StateError> {
        let mut fields = Fields::default();
        for (number, line) in text.lines().enumerate() {
            let line_no = number + 1;
            if line.is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or(StateError::NotKeyValue { line: line_no })?;
            fields
                .set(key, value)
                .map_err(|value| StateError::BadValue {
                    line: line_no,
                    key: key.to_string(),
                    value,
                })?;
        }
        fields.finish()
    }

    /// [`JobState::read`] on the bytes of a record file.
    pub fn read_bytes(bytes: Vec<u8>) -> Result<JobState, StateError> {
        let text = String::from_utf8(bytes).map_err(|_| StateError::NotUtf8)?;
        JobState::read(&text)
    }
}

/// Why a state record does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the state record is not UTF-8")]
    NotUtf8,
    #[error("line {line} is not `key=value`")]
    NotKeyValue { line: usize },
    #[error("line {line} ({key}): {value}")]
    BadValue {
        line: usize,
        key: String,
        value: BadValue,
    },
    #[error("the {key} line is missing")]
    Missing { key: &'static str },
    #[error("last-text without last-code")]
    TextWithoutCode,
}

/// What is wrong with one field's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadValue {
    #[error("`{value}` is not a number")]
    Number { value: String },
    #[error("`{value}` is not a time like 2026-11-23T19:42:00Z")]
    Time { value: String },
    #[error("`{value}` is not an enhanced status code")]
    EnhancedCode { value: String },
    #[error("`{value}` is neither yes nor no")]
    YesNo { value: String },
    #[error("`{value}` is not hold, release or retry")]
    AdminAction { value: String },
}

/// The raw fields while parsing.
#[derive(Default)]
struct Fields {
    attempts: Option<u32>,
    first_queued: Option<SystemTime>,
    next_due: Option<SystemTime>,
    code: Option<u16>,
    enhanced: Option<EnhancedCode>,
    text: Option<String>,
    reason: Option<String>,
    held: bool,
    admin_seq: u32,
    admin_last: Option<AdminAction>,
}

impl Fields {
    fn set(&mut self, key: &str, value: &str) -> Result<(), BadValue> {
        match key {
            "attempts" => self.attempts = Some(number(value)?),
            "first-queued" => self.first_queued = Some(parse_time(value)?),
            "next-due" => self.next_due = Some(parse_time(value)?),
            "last-code" => self.code = Some(number(value)?),
            "last-enhanced" => {
                let not_enhanced = || BadValue::EnhancedCode {
                    value: value.to_string(),
                };
                let (code, rest) = EnhancedCode::parse_prefix(value).ok_or_else(not_enhanced)?;
                if !rest.is_empty() {
                    return Err(not_enhanced());
                }
                self.enhanced = Some(code);
            }
            "last-text" => self.text = Some(unescape(value)),
            "last-reason" => self.reason = Some(unescape(value)),
            "held" => {
                self.held = match value {
                    "yes" => true,
                    "no" => false,
                    _ => {
                        return Err(BadValue::YesNo {
                            value: value.to_string(),
                        });
                    }
                }
            }
            "admin-seq" => self.admin_seq = number(value)?,
            "admin-last" => {
                self.admin_last =
                    Some(
                        AdminAction::parse(value).ok_or_else(|| BadValue::AdminAction {
                            value: value.to_string(),
                        })?,
                    )
            }
            _ => {} // a key from a newer vmail
        }
        Ok(())
    }

    fn finish(self) -> Result<JobState, StateError> {
        let attempts = self
            .attempts
            .ok_or(StateError::Missing { key: "attempts" })?;
        let first_queued = self.first_queued.ok_or(StateError::Missing {
            key: "first-queued",
        })?;
        let last_reply = match (self.code, self.text) {
            (Some(code), text) => Some(Reply::new(code, self.enhanced, text.unwrap_or_default())),
            (None, None) => None,
            (None, Some(_)) => return Err(StateError::TextWithoutCode),
        };
        Ok(JobState {
            attempts,
            first_queued,
            next_due: self.next_due,
            last_reply,
            last_reason: self.reason,
            held: self.held,
            admin_seq: self.admin_seq,
            admin_last: self.admin_last,
        })
    }
}

fn number<T: std::str::FromStr>(value: &str) -> Result<T, BadValue> {
    value.parse().map_err(|_| BadValue::Number {
        value: value.to_string(),
    })
}

/// RFC 3339 in UTC, to the second.
pub fn format_time(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(value: &str) -> Result<SystemTime, BadValue> {
    DateTime::parse_from_rfc3339(value)
        .map(SystemTime::from)
        .map_err(|_| BadValue::Time {
            value: value.to_string(),
        })
}

/// Keeps a value on one line: `\` becomes `\\`, a newline `\n`, a CR `\r`.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_state_survives_the_round_trip() {
        let state = JobState {
            attempts: 3,
            first_queued: at(1_795_000_000),
            next_due: Some(at(1_795_000_240)),
            last_reply: Some(Reply::new(
                451,
                Some(EnhancedCode::new(4, 7, 1)),
                "Greylisted\nback\\slash",
            )),
            last_reason: Some("the server deferred the recipient".into()),
            held: true,
            admin_seq: 2,
            admin_last: Some(AdminAction::Hold),
        };
        let text = state.to_text();
        assert!(
            text.contains("last-text=Greylisted\\nback\\\\slash\n"),
            "{text}"
        );
        assert_eq!(JobState::read(&text).unwrap(), state);
        let fresh = JobState::fresh(at(1_795_000_000));
        assert_eq!(JobState::read(&fresh.to_text()).unwrap(), fresh);
    }

    #[test]
    fn bad_records_say_which_line() {
        assert_eq!(
            JobState::read("attempts=x\n").unwrap_err().to_string(),
            "line 1 (attempts): `x` is not a number"
        );
        assert_eq!(
            JobState::read("attempts=1\ngarbage\n")
                .unwrap_err()
                .to_string(),
            "line 2 is not `key=value`"
        );
        assert_eq!(
            JobState::read("attempts=1\n").unwrap_err().to_string(),
            "the first-queued line is missing"
        );
    }

    #[test]
    fn deferral_follows_the_policy_until_the_lifetime_is_spent() {
        let policy = RetryPolicy {
            min: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            max_lifetime: Duration::from_secs(7200),
        };
        let start = JobState::fresh(at(1000));
        let once = start.deferred(at(1000), "refused", None, &policy).unwrap();
        assert_eq!((once.attempts, once.next_due), (1, Some(at(1060))));
        assert!(!once.is_due(at(1059)) && once.is_due(at(1060)));
        assert!(once.deferred(at(8200), "refused", None, &policy).is_none());
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            min: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            max_lifetime: Duration::from_secs(7200),
        }
    }

    #[test]
    fn an_attempt_with_no_action_meanwhile_follows_the_backoff() {
        let start = JobState::fresh(at(1000));
        let next = start
            .deferred_over(&start, at(1000), "451", None, &policy())
            .unwrap();
        assert_eq!(
            (next.attempts, next.next_due, next.held),
            (1, Some(at(1060)), false)
        );
    }

    #[test]
    fn a_hold_taken_during_the_attempt_survives_it() {
        let start = JobState::fresh(at(1000));
        let on_disk = start.with_admin_action(AdminAction::Hold);
        let next = on_disk
            .deferred_over(&start, at(1000), "451", None, &policy())
            .unwrap();
        assert!(next.held, "{next:?}");
        assert_eq!(next.attempts, 1);
        assert_eq!(next.admin_last, Some(AdminAction::Hold));
    }

    #[test]
    fn a_retry_asked_during_the_attempt_makes_the_job_due_at_once() {
        let start = JobState::fresh(at(1000))
            .deferred(at(1000), "451", None, &policy())
            .unwrap();
        let on_disk = start.with_admin_action(AdminAction::Retry);
        let next = on_disk
            .deferred_over(&start, at(1100), "451", None, &policy())
            .unwrap();
        assert_eq!((next.attempts, next.next_due), (2, None));
        // The same retry, asked before the attempt started, is spent by it.
        let after = next
            .deferred_over(&next, at(1200), "451", None, &policy())
            .unwrap();
        assert_eq!(after.next_due, Some(at(1200 + 240)));
    }

    #[test]
    fn a_held_job_does_not_expire_while_held() {
        let start = JobState::fresh(at(1000)).with_admin_action(AdminAction::Hold);
        let next = start
            .deferred_over(&start, at(9000), "451", None, &policy())
            .unwrap();
        assert!(next.held);
        let released = JobState::fresh(at(1000));
        assert!(
            released
                .deferred_over(&released, at(9000), "451", None, &policy())
                .is_none()
        );
    }
}
