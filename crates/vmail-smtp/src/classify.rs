//! The one place that turns an error into a job's outcome: the class and
//! the reply come from the error's row in the table ([`SmtpError::facts`]),
//! the reason is the error's own text.

use crate::error::SmtpError;
use crate::facts::Class;
use vmail_core::Outcome;

/// Maps every session error to Deferred or Failed, keeping the server's
/// reply. The table behind it has no `_` arm: a new error variant does not
/// compile until someone decides what it means.
pub fn classify(error: &SmtpError) -> Outcome {
    let facts = error.facts();
    let reason = error.to_string();
    let reply = facts.reply.cloned();
    match facts.class {
        Class::Deferred => Outcome::Deferred { reason, reply },
        Class::Failed => Outcome::Failed { reason, reply },
    }
}

#[cfg(test)]
mod tests;
