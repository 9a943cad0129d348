//! The redacted record of a session: every line the client sent (`C:`), every
//! line the server answered (`S:`) and the engine's own notes (`*`), each
//! with its UTC time. Secrets never get here: the session hands the
//! transcript a masked form of every AUTH payload and 334 answer, and the
//! message body only as a byte count.

use chrono::{DateTime, Utc};
use std::fmt;

/// Who a transcript line is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by vmail (`C:`).
    Client,
    /// Received from the server (`S:`).
    Server,
    /// A note of the engine: TLS details (`*`).
    Note,
    /// A note that the administrator should act on: sent without AUTH,
    /// certificate not verified (`* warning:`). Typed, so a reader needs
    /// no prefix to find them.
    Warning,
}

impl Direction {
    /// How the line is marked in a transcript: `C:`, `S:`, `*`.
    pub fn marker(self) -> &'static str {
        match self {
            Direction::Client => "C:",
            Direction::Server => "S:",
            Direction::Note => "*",
            Direction::Warning => "* warning:",
        }
    }
}

/// One timestamped line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptLine {
    pub at: DateTime<Utc>,
    pub direction: Direction,
    pub text: String,
}

impl fmt::Display for TranscriptLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.direction.marker(),
            self.text
        )
    }
}

/// The lines of one session (POP-before-SMTP included), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    lines: Vec<TranscriptLine>,
}

impl Transcript {
    pub fn new() -> Self {
        Transcript::default()
    }

    pub fn lines(&self) -> &[TranscriptLine] {
        &self.lines
    }

    /// The notes (`*` lines) only: warnings and TLS details.
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(|line| matches!(line.direction, Direction::Note | Direction::Warning))
            .map(|line| line.text.as_str())
    }

    pub(crate) fn client(&mut self, text: impl Into<String>) {
        self.push(Direction::Client, text.into());
    }

    pub(crate) fn server(&mut self, text: impl Into<String>) {
        self.push(Direction::Server, text.into());
    }

    /// A note of the engine. Warnings go to `tracing` as well, so that a
    /// daemon at `debug=0` still logs them.
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        self.push(Direction::Note, text.into());
    }

    pub(crate) fn warn(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::warn!("warning: {text}");
        self.push(Direction::Warning, text);
    }

    fn push(&mut self, direction: Direction, text: String) {
        self.lines.push(TranscriptLine {
            at: Utc::now(),
            direction,
            text,
        });
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_time_and_direction() {
        let mut t = Transcript::new();
        t.client("EHLO me");
        t.server("250 ok");
        t.note("TLS established");
        let text = t.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].ends_with(" C: EHLO me"), "{}", lines[0]);
        assert!(lines[1].ends_with(" S: 250 ok"));
        assert!(lines[2].ends_with(" * TLS established"));
        assert!(lines[0].starts_with("20") && lines[0].contains('T'));
        assert_eq!(t.notes().collect::<Vec<_>>(), vec!["TLS established"]);
    }
}
