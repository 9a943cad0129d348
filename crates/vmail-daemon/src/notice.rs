//! The failure notice: the one mail a sender gets when vmail gives up on a
//! job, carrying the server's last reply so nobody has to dig for it.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use vmail_core::{Envelope, JobId, Outcome};

/// Whether a failed job gets a notice: not when the sender is empty (the
/// job is a notice itself, or came from `<>`), so notices never loop.
pub fn wants_notice(envelope: &Envelope) -> bool {
    !envelope.is_null_sender()
}

/// Why a notice could not be built (the sender address does not parse, for
/// instance); the caller logs it and still moves the job to `failed/`.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("the sender `{address}` is not an address a notice can go to: {reason}")]
    BadSender { address: String, reason: String },
    #[error("the notice could not be built: {0}")]
    Build(String),
}

/// What the notice says, gathered by the worker that gave up.
pub struct FailedJob<'a> {
    pub id: &'a JobId,
    pub envelope: &'a Envelope,
    pub subject: Option<&'a str>,
    pub outcome: &'a Outcome,
    pub attempts: u32,
    pub server: &'a str,
}

/// Builds the notice as an RFC 5322 message to the job's sender, from
/// `MAILER-DAEMON@<helo-name>`, to be queued with the null sender.
pub fn build_notice(job: &FailedJob<'_>, helo_name: &str) -> Result<Vec<u8>, NoticeError> {
    let to: Mailbox = job
        .envelope
        .from
        .parse()
        .map_err(
            |err: lettre::address::AddressError| NoticeError::BadSender {
                address: job.envelope.from.clone(),
                reason: err.to_string(),
            },
        )?;
    let from: Mailbox = format!("Mail Delivery System <MAILER-DAEMON@{helo_name}>")
        .parse()
        .map_err(|err: lettre::address::AddressError| NoticeError::Build(err.to_string()))?;
    let subject = match job.subject {
        Some(subject) => format!("Undelivered mail: {subject}"),
        None => format!("Undelivered mail: job {}", job.id),
    };
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date_now()
        .message_id(None)
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".to_string(),
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(notice_text(job))
        .map_err(|err| NoticeError::Build(err.to_string()))?;
    Ok(message.formatted())
}

fn notice_text(job: &FailedJob<'_>) -> String {
    let mut text = format!(
        "vmail could not deliver job {} and has given up.\n\n\
         Recipients: {}\n\
         Mail server: {}\n\
         Attempts: {}\n\
         Reason: {}\n",
        job.id,
        job.envelope.recipients.join(", "),
        job.server,
        job.attempts,
        job.outcome,
    );
    if let Some(reply) = job.outcome.reply() {
        text.push_str(&format!(
            "Last reply from the server: {}\n",
            reply.one_line()
        ));
    }
    text.push_str(&format!(
        "\nThe job is kept in the spool's failed/ folder; an administrator can\n\
         see its log with `vfxadmin queue show {}`.\n",
        job.id
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmail_core::{EnhancedCode, Reply};

    #[test]
    fn a_notice_carries_the_reply_and_is_marked_automatic() {
        let id = JobId::parse("20261123-194200-0000000abc").unwrap();
        let envelope = Envelope::new("fax@example.test", vec!["nobody@example.test".into()]);
        let outcome = Outcome::Failed {
            reason: "the server refused every recipient".into(),
            reply: Some(Reply::new(
                550,
                Some(EnhancedCode::new(5, 1, 1)),
                "no such user",
            )),
        };
        let job = FailedJob {
            id: &id,
            envelope: &envelope,
            subject: Some("Fax from 555-1234"),
            outcome: &outcome,
            attempts: 1,
            server: "mail.example.test:25",
        };
        let text = String::from_utf8(build_notice(&job, "relay.example.test").unwrap()).unwrap();
        assert!(text.contains("To: fax@example.test"), "{text}");
        assert!(text.contains("MAILER-DAEMON@relay.example.test"), "{text}");
        assert!(
            text.contains("Subject: Undelivered mail: Fax from 555-1234"),
            "{text}"
        );
        assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
        assert!(text.contains("550 5.1.1 no such user"), "{text}");
        assert!(
            text.contains("vfxadmin queue show 20261123-194200-0000000abc"),
            "{text}"
        );
    }

    #[test]
    fn null_senders_get_no_notice() {
        assert!(!wants_notice(&Envelope::new("", vec!["a@b.test".into()])));
        assert!(wants_notice(&Envelope::new(
            "a@b.test",
            vec!["c@d.test".into()]
        )));
    }
}
