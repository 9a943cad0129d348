//! The parameters of `MAIL FROM` and `RCPT TO`: `SIZE=`, `BODY=8BITMIME`
//! (RFC 6152), `SMTPUTF8` (RFC 6531) and the DSN request (RFC 3461:
//! `RET=`, `ENVID=`, `NOTIFY=`), each sent only when the server offers its
//! extension. Addresses go in their wire form: an IDNA domain as its
//! A-label when the local part is ASCII.

use crate::error::SmtpError;
use crate::reply::Extensions;
use vmail_core::Envelope;
use vmail_core::dsn::xtext;
use vmail_message::address::{needs_smtputf8, wire_form};

/// What the message's data is, for `BODY=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyType {
    /// Nothing above 127: no parameter.
    SevenBit,
    /// 8-bit bytes (or not known to have none): `BODY=8BITMIME`, only ever
    /// given when the server offers it (otherwise the data was made 7-bit).
    EightBit,
}

/// The `MAIL FROM` command line. Refuses, before anything is sent, an
/// address that needs SMTPUTF8 when the server does not offer it.
pub(crate) fn mail_from(
    envelope: &Envelope,
    ext: &Extensions,
    size: Option<u64>,
    body: BodyType,
) -> Result<String, SmtpError> {
    let utf8 = smtputf8_needed(envelope);
    if utf8 && !ext.smtputf8 {
        let address = std::iter::once(&envelope.from)
            .chain(&envelope.recipients)
            .find(|address| needs_smtputf8(address))
            .cloned()
            .unwrap_or_default();
        return Err(SmtpError::NeedsSmtpUtf8 { address });
    }
    let mut mail = format!("MAIL FROM:<{}>", wire_form(&envelope.from));
    if let (Some(_), Some(size)) = (ext.size, size) {
        mail.push_str(&format!(" SIZE={size}"));
    }
    if body == BodyType::EightBit && ext.eight_bit_mime {
        mail.push_str(" BODY=8BITMIME");
    }
    if utf8 {
        mail.push_str(" SMTPUTF8");
    }
    let dsn = &envelope.dsn;
    if ext.dsn && (dsn.notify.is_some() || dsn.ret.is_some()) {
        if let Some(ret) = dsn.ret {
            mail.push_str(&format!(" RET={ret}"));
        }
        if let Some(envid) = &dsn.envid {
            mail.push_str(&format!(" ENVID={}", xtext(envid)));
        }
    }
    Ok(mail)
}

/// Whether any address of the envelope needs SMTPUTF8.
fn smtputf8_needed(envelope: &Envelope) -> bool {
    std::iter::once(&envelope.from)
        .chain(&envelope.recipients)
        .any(|address| needs_smtputf8(address))
}

/// The `RCPT TO` command line of one recipient.
pub(crate) fn rcpt_to(recipient: &str, envelope: &Envelope, ext: &Extensions) -> String {
    let mut rcpt = format!("RCPT TO:<{}>", wire_form(recipient));
    if let (true, Some(notify)) = (ext.dsn, envelope.dsn.notify) {
        rcpt.push_str(&format!(" NOTIFY={notify}"));
    }
    rcpt
}

/// Every message's DSN request, with `[VMAIL] dsn-notify` and
/// `dsn-return` where the message says nothing.
pub(crate) fn with_defaults(
    mut messages: Vec<crate::message::Outgoing>,
    defaults: &vmail_core::Dsn,
) -> Vec<crate::message::Outgoing> {
    for message in &mut messages {
        message.envelope.dsn = message.envelope.dsn.or(defaults);
    }
    messages
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use vmail_core::{Dsn, DsnNotify, DsnReturn};

    fn ext(offered: &str) -> Extensions {
        let mut raw = String::from("250-mail.example.com\r\n");
        for word in offered.split_whitespace() {
            raw.push_str(&format!("250-{word}\r\n"));
        }
        raw.push_str("250 HELP\r\n");
        Extensions::parse(raw.as_bytes()).unwrap()
    }

    fn envelope(from: &str, to: &[&str]) -> Envelope {
        Envelope::new(from, to.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn parameters_go_only_to_a_server_that_offers_them() {
        let mut env = envelope("fax@example.com", &["a@example.com"]);
        env.dsn = Dsn {
            notify: Some(DsnNotify::parse("success,failure").unwrap()),
            ret: Some(DsnReturn::Headers),
            envid: Some("job 1".into()),
        };
        let all = ext("SIZE 1000 8BITMIME SMTPUTF8 DSN");
        assert_eq!(
            mail_from(&env, &all, Some(12), BodyType::EightBit).unwrap(),
            "MAIL FROM:<fax@example.com> SIZE=12 BODY=8BITMIME RET=HDRS ENVID=job+201"
        );
        assert_eq!(
            rcpt_to("a@example.com", &env, &all),
            "RCPT TO:<a@example.com> NOTIFY=SUCCESS,FAILURE"
        );
        let none = ext("PIPELINING");
        assert_eq!(
            mail_from(&env, &none, Some(12), BodyType::EightBit).unwrap(),
            "MAIL FROM:<fax@example.com>"
        );
        assert_eq!(
            rcpt_to("a@example.com", &env, &none),
            "RCPT TO:<a@example.com>"
        );
        let plain = envelope("fax@example.com", &["a@example.com"]);
        assert_eq!(
            mail_from(&plain, &all, None, BodyType::SevenBit).unwrap(),
            "MAIL FROM:<fax@example.com>"
        );
        assert_eq!(
            rcpt_to("a@example.com", &plain, &all),
            "RCPT TO:<a@example.com>"
        );
    }

    #[test]
    fn a_utf8_address_needs_smtputf8_and_an_idna_domain_does_not() {
        let env = envelope("fax@example.com", &["ann@bücher.de", "jörg@example.de"]);
        assert_eq!(
            mail_from(&env, &ext("8BITMIME SMTPUTF8"), None, BodyType::SevenBit).unwrap(),
            "MAIL FROM:<fax@example.com> SMTPUTF8"
        );
        assert_eq!(
            rcpt_to("ann@bücher.de", &env, &ext("SMTPUTF8")),
            "RCPT TO:<ann@xn--bcher-kva.de>"
        );
        let error = mail_from(&env, &ext("8BITMIME"), None, BodyType::SevenBit).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the address jörg@example.de is not ASCII and the server does not offer SMTPUTF8 \
             (RFC 6531); the message was not sent"
        );
        let idna = envelope("fax@example.com", &["ann@bücher.de"]);
        assert_eq!(
            mail_from(&idna, &ext("8BITMIME"), None, BodyType::SevenBit).unwrap(),
            "MAIL FROM:<fax@example.com>"
        );
    }
}
