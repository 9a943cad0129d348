//! The envelope of a message taken from its own header, as `sendmail -t`
//! does: the recipients are every address of To, Cc and Bcc (groups
//! flattened, display names and comments dropped, each once), the sender
//! the configured one or else the first address of From.

use mail_parser::{Address, Message, MessageParser};
use vmail_core::Envelope;

use crate::address::{LocalNames, Rewrite, push_unique};

/// Why a header gives no envelope. The texts complete a sentence that
/// starts with the file's name (the quarantine reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("has a header that cannot be parsed")]
    Unparsable,
    #[error("has no recipients: no address in its To, Cc or Bcc fields")]
    NoRecipients,
    #[error("has no sender: no address in its From field, and [VMAIL] from is not set")]
    NoSender,
}

/// The addresses of the To, Cc and Bcc fields, in order, each once.
pub fn header_recipients(header: &[u8]) -> Vec<String> {
    MessageParser::new()
        .parse_headers(header)
        .map(|message| recipients(&message))
        .unwrap_or_default()
}

fn recipients(message: &Message<'_>) -> Vec<String> {
    let mut found = Vec::new();
    for field in [message.to(), message.cc(), message.bcc()]
        .into_iter()
        .flatten()
    {
        for address in addresses(field) {
            push_unique(&mut found, address);
        }
    }
    found
}

/// The envelope of a whole message's header: the sender is `default_from`
/// (`[VMAIL] from`) when set, else the message's From.
pub fn from_header(header: &[u8], default_from: &str) -> Result<Envelope, EnvelopeError> {
    let message = MessageParser::new()
        .parse_headers(header)
        .ok_or(EnvelopeError::Unparsable)?;
    let recipients = recipients(&message);
    if recipients.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    let from = if default_from.is_empty() {
        message
            .from()
            .and_then(|from| addresses(from).into_iter().next())
            .ok_or(EnvelopeError::NoSender)?
    } else {
        default_from.to_string()
    };
    Ok(Envelope::new(from, recipients))
}

/// Rewrites the names without a domain of `envelope` as `names` says
/// (recipients that become the same address are kept once) and reports
/// every rewrite, so that whoever queues the job can say so in its log.
/// Names it cannot place stay as they are, for the caller's address check
/// to refuse with its usual reason.
pub fn rewrite_local(envelope: &mut Envelope, names: &LocalNames) -> Vec<Rewrite> {
    let mut rewrites = Vec::new();
    if let Some(rewrite) = names.sender(&envelope.from) {
        envelope.from = rewrite.address.clone();
        rewrites.push(rewrite);
    }
    let mut recipients = Vec::with_capacity(envelope.recipients.len());
    for rcpt in std::mem::take(&mut envelope.recipients) {
        match names.recipient(&rcpt) {
            Some(rewrite) => {
                push_unique(&mut recipients, rewrite.address.clone());
                rewrites.push(rewrite);
            }
            None => push_unique(&mut recipients, rcpt),
        }
    }
    envelope.recipients = recipients;
    rewrites
}

/// The rewrites as one clause for a job log's first line (`""` for none):
/// `; recipient root rewritten to ... ([VMAIL] admin-address)`.
pub fn rewrites_note(rewrites: &[Rewrite]) -> String {
    rewrites.iter().map(|r| format!("; {r}")).collect()
}

/// The addresses of a field, groups flattened, display names dropped. A
/// bare local name (`To: root`, as `mail root` writes it) is read by the
/// parser as a display name without an address; it is kept as the name,
/// for [`rewrite_local`] to place or the address check to refuse.
fn addresses(field: &Address<'_>) -> Vec<String> {
    field
        .iter()
        .filter_map(|addr| {
            addr.address().or_else(|| {
                addr.name()
                    .filter(|name| !name.trim().contains(char::is_whitespace))
            })
        })
        .map(|addr| addr.trim().to_string())
        .filter(|addr| !addr.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn recipients_come_from_to_cc_and_bcc_once_each() {
        let header = b"To: a@x\nCc: B <b@x>, a@X\nBcc: b@x,\n c@x\nSubject: s\n";
        assert_eq!(header_recipients(header), ["a@x", "b@x", "c@x"]);
        assert_eq!(header_recipients(b"To: root, Ann <a@x>\n"), ["root", "a@x"]);
        let env = from_header(b"From: s@x\nBcc: s@x,\r\n t@x\r\nTo: b@x\r\n", "").unwrap();
        assert_eq!(env.from, "s@x");
        assert_eq!(env.recipients, vec!["b@x", "s@x", "t@x"]);
    }

    #[test]
    fn groups_comments_and_display_names_give_bare_addresses() {
        let text = "From: \"Fax, Server\" <fax@x.org> (the fax)\n\
                    To: Team: Ann <ann@x.org>, bob@x.org (Bob);, \"Doe, J\" <j@y.org>\n\n";
        let env = from_header(text.as_bytes(), "relay@x.org").unwrap();
        assert_eq!(env.from, "relay@x.org");
        assert_eq!(env.recipients, vec!["ann@x.org", "bob@x.org", "j@y.org"]);
        let env = from_header(text.as_bytes(), "").unwrap();
        assert_eq!(env.from, "fax@x.org");
    }

    #[test]
    fn a_header_without_recipients_or_sender_is_explained() {
        assert_eq!(
            from_header(b"From: a@x\nSubject: hi\n\n", "")
                .unwrap_err()
                .to_string(),
            "has no recipients: no address in its To, Cc or Bcc fields"
        );
        assert_eq!(
            from_header(b"To: b@x\n\n", "").unwrap_err().to_string(),
            "has no sender: no address in its From field, and [VMAIL] from is not set"
        );
        assert!(header_recipients(b"").is_empty());
    }

    #[test]
    fn local_names_are_rewritten_and_reported() {
        let names = LocalNames::new(Some("admin@example.com"), Some("host.example.com"));
        let mut env = Envelope::new(
            "cron",
            vec!["root".into(), "postmaster".into(), "a@x".into()],
        );
        let rewrites = rewrite_local(&mut env, &names);
        assert_eq!(env.from, "cron@host.example.com");
        assert_eq!(env.recipients, ["admin@example.com", "a@x"]);
        assert_eq!(
            rewrites_note(&rewrites),
            "; sender cron rewritten to cron@host.example.com ([VMAIL] local-domain)\
             ; recipient root rewritten to admin@example.com ([VMAIL] admin-address)\
             ; recipient postmaster rewritten to admin@example.com ([VMAIL] admin-address)"
        );
        let mut env = Envelope::new("", vec!["root".into()]);
        assert!(rewrite_local(&mut env, &LocalNames::default()).is_empty());
        assert_eq!(env.recipients, ["root"]);
    }
}
