//! What became of one message (or one recipient) after a delivery attempt.

use crate::reply::Reply;
use std::fmt;

/// The three ends of an attempt. Every error of the submitter is mapped to
/// one of these by a single exhaustive function in `vmail-smtp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted the message; `reply` is its 250 with the queue id.
    Delivered { reply: Reply },
    /// Try again later: 4xx, network, TLS, timeout, rejected login.
    Deferred {
        reason: String,
        reply: Option<Reply>,
    },
    /// Give up: 5xx to the envelope or the data, or the lifetime ran out.
    Failed {
        reason: String,
        reply: Option<Reply>,
    },
}

impl Outcome {
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Outcome::Delivered { reply } => Some(reply),
            Outcome::Deferred { reply, .. } | Outcome::Failed { reply, .. } => reply.as_ref(),
        }
    }

    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered { .. })
    }

    pub fn is_deferred(&self) -> bool {
        matches!(self, Outcome::Deferred { .. })
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    /// `delivered`, `deferred` or `failed`: the word used in job logs.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Deferred { .. } => "deferred",
            Outcome::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Delivered { reply } => write!(f, "delivered: {}", reply.one_line()),
            Outcome::Deferred { reason, reply } | Outcome::Failed { reason, reply } => {
                write!(f, "{}: {reason}", self.label())?;
                if let Some(reply) = reply {
                    write!(f, " (server said: {})", reply.one_line())?;
                }
                Ok(())
            }
        }
    }
}
