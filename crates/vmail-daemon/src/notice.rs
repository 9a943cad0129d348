//! The failure notice, as the worker asks for it today: a thin adapter over
//! `vmail_message::dsn`, which builds the notice as an RFC 3464 delivery
//! status notification (`multipart/report; report-type=delivery-status`).
//!
//! [`FailedJob`] carries one outcome for all the recipients it names, so
//! what the adapter can say is limited: when that outcome is the job's
//! `Delivered` (some recipients refused at RCPT, the others delivered), it
//! cannot give each refused recipient its own reply, only say they were
//! refused and that the job is in `sent/`. A worker that gathers a
//! [`vmail_message::FailureReport`] itself (each recipient with its own
//! fate, the original header, the arrival time, where the job is kept) and
//! calls [`vmail_message::dsn::build`] gives the full notice.

use std::time::SystemTime;

use vmail_core::{Envelope, JobId, Outcome};
use vmail_message::dsn::{self, FailureReport, KeptIn, NoticeOrigin, RecipientFate};

/// Whether a failed job gets a notice: not when the sender is empty (the
/// job is a notice itself, or came from `<>`), so notices never loop.
pub fn wants_notice(envelope: &Envelope) -> bool {
    dsn::wants_notice(&envelope.from)
}

/// Why a notice could not be built (the sender address does not parse, for
/// instance); the caller logs it and still settles the job.
pub type NoticeError = vmail_message::DsnError;

/// What the notice says, gathered by the worker that gave up.
pub struct FailedJob<'a> {
    pub id: &'a JobId,
    /// The sender and the recipients the notice is about.
    pub envelope: &'a Envelope,
    pub subject: Option<&'a str>,
    /// The job's outcome: `Failed` when the whole job failed (it goes to
    /// `failed/`); `Delivered` or `Deferred` when only the recipients named
    /// here were refused and the job goes to `sent/`.
    pub outcome: &'a Outcome,
    pub attempts: u32,
    pub server: &'a str,
}

/// Builds the notice to the job's sender, from `MAILER-DAEMON@<helo_name>`,
/// to be queued with the null sender.
pub fn build_notice(job: &FailedJob<'_>, helo_name: &str) -> Result<Vec<u8>, NoticeError> {
    let (fate, kept_in) = match job.outcome.clone() {
        Outcome::Failed { reason, reply } => {
            (RecipientFate::Failed { reason, reply }, KeptIn::Failed)
        }
        // Some recipients were delivered: these were refused one by one,
        // and the job's own outcome is not theirs.
        Outcome::Delivered { .. } | Outcome::Deferred { .. } => (
            RecipientFate::Failed {
                reason: "the mail server refused this recipient; its reply is in the job's log"
                    .to_string(),
                reply: None,
            },
            KeptIn::Sent,
        ),
    };
    let recipients: Vec<(String, RecipientFate)> = job
        .envelope
        .recipients
        .iter()
        .map(|address| (address.clone(), fate.clone()))
        .collect();
    let origin = NoticeOrigin::new("", helo_name);
    dsn::build(&FailureReport {
        job: job.id,
        sender: &job.envelope.from,
        recipients: &recipients,
        original_headers: None,
        subject: job.subject,
        attempts: job.attempts,
        remote_server: job.server,
        origin: &origin,
        arrival: None,
        last_attempt: SystemTime::now(),
        kept_in,
    })
}

/// Who reports, from the configuration: `Reporting-MTA` is the HELO name;
/// MAILER-DAEMON and the notice's Message-ID are at the domain of
/// `[VMAIL] from`, else the HELO name (in capture mode, which has no HELO
/// name, the domain of `[VMAIL] from` both).
pub fn origin(config: &vmail_config::Config) -> NoticeOrigin {
    let helo = config
        .smtp()
        .map(|s| s.helo_name.as_str())
        .or_else(|| vmail_message::address::domain(&config.from))
        .unwrap_or("localhost");
    NoticeOrigin::new(&config.from, helo)
}

/// Each recipient of the job with its fate after the attempt: its own
/// RCPT verdict, except that a recipient the server accepted at RCPT
/// shares the message's fate (the DATA reply, `250 ... queued as` when
/// delivered), and a recipient the attempt never reached (it ended before
/// RCPT) shares the job's outcome. For a job that ran out of its lifetime,
/// pass the expiry as `outcome` and no `per_recipient`: every recipient
/// has then failed, whatever its last RCPT reply was.
pub fn fates(
    job_recipients: &[String],
    outcome: &Outcome,
    per_recipient: &[(String, Outcome)],
) -> Vec<(String, RecipientFate)> {
    job_recipients
        .iter()
        .map(|address| {
            let own = per_recipient
                .iter()
                .find(|(rcpt, _)| rcpt.eq_ignore_ascii_case(address))
                .map(|(_, own)| own);
            let fate = match own {
                Some(Outcome::Delivered { .. }) | None => outcome.clone(),
                Some(own) => own.clone(),
            };
            (address.clone(), RecipientFate::from(fate))
        })
        .collect()
}

/// Everything a full notice says, as the worker has it when it settles a
/// job (see [`build_job_notice`]).
pub struct JobNotice<'a> {
    pub id: &'a JobId,
    /// The whole job's envelope: its sender gets the notice.
    pub envelope: &'a Envelope,
    /// Each recipient with its fate (see [`fates`]).
    pub recipients: &'a [(String, RecipientFate)],
    /// The queued message's header (`vmail_message::header::read_header_block`
    /// over `Spool::open_message`); its Subject makes the notice's.
    pub original_headers: Option<&'a [u8]>,
    pub attempts: u32,
    /// `Deliver::destination()`.
    pub server: &'a str,
    /// `JobState::first_queued`.
    pub arrival: Option<SystemTime>,
    /// `sent/` when any recipient was delivered, `failed/` when none was.
    pub kept_in: KeptIn,
}

/// The full notice: each refused recipient with its own reply, the
/// delivered ones named, the original header quoted.
pub fn build_job_notice(
    notice: &JobNotice<'_>,
    origin: &NoticeOrigin,
) -> Result<Vec<u8>, NoticeError> {
    dsn::build(&FailureReport {
        job: notice.id,
        sender: &notice.envelope.from,
        recipients: notice.recipients,
        original_headers: notice.original_headers,
        subject: None,
        attempts: notice.attempts,
        remote_server: notice.server,
        origin,
        arrival: notice.arrival,
        last_attempt: SystemTime::now(),
        kept_in: notice.kept_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmail_core::{EnhancedCode, Reply};

    fn notice(outcome: &Outcome) -> String {
        let id = JobId::parse("20261123-194200-0000000abc").unwrap();
        let envelope = Envelope::new("fax@example.test", vec!["nobody@example.test".into()]);
        let job = FailedJob {
            id: &id,
            envelope: &envelope,
            subject: Some("Fax from 555-1234"),
            outcome,
            attempts: 1,
            server: "mail.example.test:25",
        };
        String::from_utf8(build_notice(&job, "relay.example.test").unwrap()).unwrap()
    }

    #[test]
    fn a_notice_is_a_delivery_report_carrying_the_reply() {
        let text = notice(&Outcome::Failed {
            reason: "the server refused every recipient".into(),
            reply: Some(Reply::new(
                550,
                Some(EnhancedCode::new(5, 1, 1)),
                "no such user",
            )),
        });
        assert!(text.contains("To: fax@example.test"), "{text}");
        assert!(text.contains("MAILER-DAEMON@relay.example.test"), "{text}");
        assert!(
            text.contains("Subject: Undelivered mail: Fax from 555-1234"),
            "{text}"
        );
        assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
        assert!(text.contains("report-type=delivery-status"), "{text}");
        assert!(
            text.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user"),
            "{text}"
        );
        assert!(text.contains("Status: 5.1.1"), "{text}");
        assert!(text.contains("spool's failed/ folder"), "{text}");
        assert!(
            text.contains("vfxadmin queue show 20261123-194200-0000000abc"),
            "{text}"
        );
    }

    #[test]
    fn a_partly_refused_job_is_not_reported_as_delivered_or_failed() {
        let text = notice(&Outcome::Delivered {
            reply: Reply::new(250, Some(EnhancedCode::new(2, 0, 0)), "Ok: queued as X"),
        });
        assert!(!text.contains("queued as X"), "{text}");
        assert!(text.contains("spool's sent/ folder"), "{text}");
        assert!(
            text.contains("to some of its recipients and has given up on them"),
            "{text}"
        );
        assert!(
            text.contains("Its other recipients got the message"),
            "{text}"
        );
        assert!(text.contains("Action: failed"), "{text}");
        assert!(
            text.contains("Final-Recipient: rfc822; nobody@example.test"),
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

    #[test]
    fn a_partly_refused_job_names_each_refused_recipient_with_its_own_reply() {
        use mail_parser::{MessageParser, MimeHeaders};
        let id = JobId::parse("20261123-194200-0000000abc").unwrap();
        let envelope = Envelope::new(
            "fax@example.test",
            vec!["nosuch@example.test".into(), "bob@example.test".into()],
        );
        let queued = Reply::new(
            250,
            Some(EnhancedCode::new(2, 0, 0)),
            "Ok: queued as 4dXyZ1",
        );
        let outcome = Outcome::Delivered {
            reply: queued.clone(),
        };
        let per_recipient = [
            (
                "nosuch@example.test".to_string(),
                Outcome::Failed {
                    reason: "the server refused the recipient".into(),
                    reply: Some(Reply::new(
                        550,
                        Some(EnhancedCode::new(5, 1, 1)),
                        "<nosuch@example.test>: Recipient address rejected: User unknown",
                    )),
                },
            ),
            (
                "bob@example.test".to_string(),
                Outcome::Delivered {
                    reply: Reply::new(250, Some(EnhancedCode::new(2, 1, 5)), "Ok"),
                },
            ),
        ];
        let recipients = fates(&envelope.recipients, &outcome, &per_recipient);
        assert_eq!(recipients[1].1, RecipientFate::Delivered { reply: queued });
        let headers = b"From: fax@example.test\r\nSubject: Invoice 42\r\n";
        let notice = JobNotice {
            id: &id,
            envelope: &envelope,
            recipients: &recipients,
            original_headers: Some(headers),
            attempts: 1,
            server: "mail.example.test:25",
            arrival: Some(SystemTime::now()),
            kept_in: KeptIn::Sent,
        };
        let origin = NoticeOrigin::new("fax@example.test", "relay.example.test");
        let bytes = build_job_notice(&notice, &origin).unwrap();
        let message = MessageParser::new().parse(&bytes).unwrap();
        assert_eq!(message.subject(), Some("Undelivered mail: Invoice 42"));
        let ct = message.content_type().unwrap();
        assert_eq!(ct.subtype(), Some("report"));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("MAILER-DAEMON@example.test"), "{text}");
        assert!(
            text.contains("Diagnostic-Code: smtp; 550 5.1.1 <nosuch@example.test>"),
            "{text}"
        );
        assert!(!text.contains("Final-Recipient: rfc822; bob@"), "{text}");
        assert!(
            text.contains(
                "  <bob@example.test>\r\n    the server's reply: 250 2.0.0 Ok: queued as 4dXyZ1"
            ),
            "{text}"
        );
        assert!(text.contains("spool's sent/ folder"), "{text}");
        assert!(text.contains("Content-Type: text/rfc822-headers"), "{text}");
    }

    #[test]
    fn recipients_the_attempt_never_reached_share_the_jobs_outcome() {
        let failed = Outcome::Failed {
            reason: "not delivered within max-lifetime (432000s)".into(),
            reply: None,
        };
        let all = fates(
            &["a@x.test".to_string(), "b@x.test".to_string()],
            &failed,
            &[],
        );
        assert!(
            all.iter()
                .all(|(_, fate)| matches!(fate, RecipientFate::Failed { .. }))
        );
    }
}
