//! The one place that decides what an error means for a job.

use crate::error::SmtpError;
use vmail_core::{Outcome, Reply};

/// Maps every session error to Deferred or Failed, keeping the server's
/// reply. There is deliberately no `_` arm: a new error variant does not
/// compile until someone decides what it means.
pub fn classify(error: &SmtpError) -> Outcome {
    let reason = error.to_string();
    let reply = error.reply().cloned();
    let by_reply = |reply: &Reply| {
        if reply.is_permanent() {
            failed(reason.clone(), Some(reply.clone()))
        } else {
            deferred(reason.clone(), Some(reply.clone()))
        }
    };
    match error {
        // Network, TLS, timeouts and the server's mood: try again later.
        SmtpError::Connect { .. }
        | SmtpError::Timeout { .. }
        | SmtpError::ConnectionClosed { .. }
        | SmtpError::Io { .. }
        | SmtpError::Protocol { .. }
        | SmtpError::Greeting { .. }
        | SmtpError::Helo { .. }
        | SmtpError::StartTlsNotOffered { .. }
        | SmtpError::StartTlsRefused { .. }
        | SmtpError::Tls { .. }
        | SmtpError::TlsConfig { .. }
        | SmtpError::Rset { .. }
        | SmtpError::Body { .. }
        | SmtpError::BodyRead { .. } => deferred(reason, reply),
        // Login problems are configuration problems: a typo in auth-rsp
        // must not bounce the whole queue.
        SmtpError::PlaintextAuthRefused
        | SmtpError::AuthMechanismNotOffered { .. }
        | SmtpError::AuthMissingResponses { .. }
        | SmtpError::AuthRejected { .. }
        | SmtpError::AuthBadChallenge { .. }
        | SmtpError::Pop { .. } => deferred(reason, reply),
        // No token, or a token refused: a token endpoint that is down comes
        // back, a revoked client or a missing permission is fixed while the
        // jobs wait (max-lifetime still bounds them). Failing at once would
        // bounce the whole queue for one administrator's mistake.
        SmtpError::OAuthToken { .. } | SmtpError::OAuthRejected { .. } => deferred(reason, reply),
        // The server's verdict on this message: 5xx fails, 4xx waits.
        SmtpError::MailFrom { reply }
        | SmtpError::Recipient { reply, .. }
        | SmtpError::Data { reply }
        | SmtpError::DataEnd { reply } => by_reply(reply),
        SmtpError::RecipientsRefused { refused } => {
            match refused.iter().find(|r| !r.reply.is_permanent()) {
                Some(transient) => deferred(reason, Some(transient.reply.clone())),
                None => failed(reason, reply),
            }
        }
        SmtpError::SizeExceeded { .. } => failed(reason, reply),
    }
}

fn deferred(reason: String, reply: Option<Reply>) -> Outcome {
    Outcome::Deferred { reason, reply }
}

fn failed(reason: String, reply: Option<Reply>) -> Outcome {
    Outcome::Failed { reason, reply }
}

#[cfg(test)]
mod tests;
