//! A session that opened: the verdict of each step (POP-before-SMTP,
//! greeting, EHLO, TLS and certificate, AUTH) and the test message.

use super::diagnose::{Cx, Diagnosis, diagnose};
use super::probe::{ProbeKind, probe};
use super::{Report, Verdict, verification};
use vmail_core::{AuthType, Envelope, SmtpSettings, TlsMode};
use vmail_smtp::{Body, CertificateCheck, Direction, Extensions, Session, TlsInfo, TranscriptLine};

pub async fn examine(
    report: &mut Report,
    settings: &SmtpSettings,
    mut session: Session,
    from: &str,
    send_test: Option<&str>,
) {
    pop_verdict(report, settings);
    report.push(Verdict::ok(format!(
        "greeting: {}",
        session.greeting().one_line()
    )));
    ehlo_verdict(report, &session);
    let hidden_auth = match session.tls() {
        Some(tls) => {
            let tls = tls.clone();
            tls_verdicts(report, &tls);
            None
        }
        None => plain_verdicts(report, settings, session.extensions()).await,
    };
    auth_verdict(report, settings, &session, hidden_auth.as_ref());
    if let Some(to) = send_test {
        send_test_message(report, settings, &mut session, from, to).await;
    }
    report.transcript = session.quit().await;
}

/// POP-before-SMTP went through (called only when it did, or was not
/// configured).
pub fn pop_verdict(report: &mut Report, settings: &SmtpSettings) {
    if let Some(pop) = &settings.pop {
        report.push(Verdict::ok(format!(
            "POP-before-SMTP: login to {}:{} accepted",
            pop.host, pop.port
        )));
    }
}

fn ehlo_verdict(report: &mut Report, session: &Session) {
    let lines = session.transcript().lines();
    let helo = lines
        .iter()
        .position(|l| l.direction == Direction::Client && l.text.starts_with("HELO "));
    let Some(helo) = helo else {
        // After STARTTLS the second EHLO no longer lists it: say it was used.
        let used_starttls = lines
            .iter()
            .any(|l| l.direction == Direction::Client && l.text == "STARTTLS");
        let starttls = if used_starttls {
            "STARTTLS (used), "
        } else {
            ""
        };
        report.push(Verdict::ok(format!(
            "EHLO accepted; the server offers: {starttls}{}",
            extension_list(session.extensions())
        )));
        return;
    };
    let refusal = lines[..helo]
        .iter()
        .rev()
        .find(|l| l.direction == Direction::Server)
        .map_or_else(String::new, |l| l.text.clone());
    report.push(Verdict::warn(format!(
        "the server refused EHLO ({refusal}) and accepted HELO: an old server without ESMTP, so \
         no STARTTLS, no AUTH and no SIZE"
    )));
}

fn extension_list(ext: &Extensions) -> String {
    let mut names = Vec::new();
    if ext.starttls {
        names.push("STARTTLS".to_string());
    }
    if ext.offers_auth() {
        names.push(
            format!("AUTH {}", ext.auth.join(" "))
                .trim_end()
                .to_string(),
        );
    }
    match ext.size_limit() {
        Some(limit) => names.push(format!("SIZE {limit}")),
        None if ext.size.is_some() => names.push("SIZE".to_string()),
        None => {}
    }
    for (on, name) in [
        (ext.pipelining, "PIPELINING"),
        (ext.eight_bit_mime, "8BITMIME"),
        (ext.enhanced_status_codes, "ENHANCEDSTATUSCODES"),
        (ext.smtputf8, "SMTPUTF8"),
        (ext.dsn, "DSN"),
    ] {
        if on {
            names.push(name.to_string());
        }
    }
    if names.is_empty() {
        "no extensions".to_string()
    } else {
        names.join(", ")
    }
}

/// The encryption and the certificate (also used for a session that failed
/// after its handshake).
pub fn tls_verdicts(report: &mut Report, tls: &TlsInfo) {
    report.push(Verdict::ok(format!("TLS: {} {}", tls.protocol, tls.cipher)));
    let Some(peer) = &tls.peer else {
        return;
    };
    let summary = format!(
        "subject {}, issuer {}, valid until {}",
        peer.subject, peer.issuer, peer.not_after
    );
    let verdict = match (&peer.verification, peer.check) {
        (_, CertificateCheck::Pin { matched: true }) => Verdict::ok(format!(
            "certificate pinned: its fingerprint {} is in tls-fingerprint, which replaces the \
             CA check: {summary}",
            peer.fingerprint
        )),
        (Ok(()), _) => Verdict::ok(format!("certificate verified: {summary}")),
        (Err(_), _) => Verdict::warn(format!(
            "certificate {}: {summary}; set [VMAIL] ca-file to the CA's PEM file and \
             tls-verify=yes",
            verification(peer)
        )),
    };
    report.push(verdict);
    report.certificate = Some(peer.clone());
}

/// An unencrypted session. With tls=none and STARTTLS on offer but no AUTH,
/// a STARTTLS probe tells whether AUTH hides behind it; its mechanisms are
/// returned.
async fn plain_verdicts(
    report: &mut Report,
    settings: &SmtpSettings,
    ext: &Extensions,
) -> Option<Extensions> {
    match settings.tls {
        TlsMode::None if ext.starttls => {
            report.push(Verdict::warn(
                "the server offers STARTTLS; set tls=starttls",
            ));
            if ext.offers_auth() {
                return None;
            }
            let (seen, record) = probe(settings, ProbeKind::StartTls).await;
            report.probes.extend(record);
            seen.extensions.filter(Extensions::offers_auth)
        }
        TlsMode::None => {
            report.push(Verdict::warn(
                "not encrypted (tls=none, and the server offers no STARTTLS): mail crosses the \
                 network in clear",
            ));
            None
        }
        TlsMode::Opportunistic | TlsMode::StartTls | TlsMode::Implicit => {
            report.push(Verdict::warn(
                "not encrypted: the server offers no STARTTLS, so tls=opportunistic goes on in \
                 clear; if the server has an implicit-TLS port (usually 465), use it with \
                 tls=implicit",
            ));
            None
        }
    }
}

fn auth_verdict(
    report: &mut Report,
    settings: &SmtpSettings,
    session: &Session,
    hidden_auth: Option<&Extensions>,
) {
    let ext = session.extensions();
    let configured = settings.auth_type != AuthType::None;
    let verdict = match (session.authenticated(), hidden_auth) {
        (Some(mechanism), _) => {
            let accepted = last_reply(session.transcript().lines(), "235")
                .map_or_else(String::new, |reply| format!(" ({reply})"));
            Verdict::ok(format!(
                "AUTH {}: login accepted{accepted}",
                mechanism.name()
            ))
        }
        (None, Some(after)) if configured => Verdict::fail(format!(
            "auth-type={} is set, but the server offers AUTH only after STARTTLS (AUTH {}); set \
             tls=starttls",
            settings.auth_type,
            after.auth.join(" ")
        )),
        (None, Some(after)) => Verdict::warn(format!(
            "after STARTTLS the server offers AUTH {}; with tls=none mail goes without logging in",
            after.auth.join(" ")
        )),
        (None, None) if ext.offers_auth() => Verdict::warn(format!(
            "the server offers AUTH {} but auth-type=none: mail goes without logging in; if the \
             server refuses to relay, set auth-type=auto and auth-rsp with `vfxadmin config -a \
             -p -e VMAIL auth-rsp`",
            ext.auth.join(" ")
        )),
        (None, None) => {
            let unused = if configured {
                "; [VMAIL] auth-rsp is not used"
            } else {
                ""
            };
            Verdict::warn(format!(
                "the server offers no AUTH: mail will be sent without logging in (the server \
                 decides at RCPT TO whether it relays for this host){unused}"
            ))
        }
    };
    report.push(verdict);
}

/// The last server line starting with `code`.
fn last_reply(lines: &[TranscriptLine], code: &str) -> Option<String> {
    lines
        .iter()
        .rev()
        .find(|l| l.direction == Direction::Server && l.text.starts_with(code))
        .map(|l| l.text.clone())
}

/// Sends one small real message and reports the reply to each command.
async fn send_test_message(
    report: &mut Report,
    settings: &SmtpSettings,
    session: &mut Session,
    from: &str,
    to: &str,
) {
    let host = hostname(settings);
    let stamp = vmail_message::Stamp::now();
    let message_id = stamp.message_id(&host);
    let body = test_message(settings, from, to, &host, &stamp);
    let envelope = Envelope::new(from, vec![to.to_string()]);
    let sent = session.send(&envelope, Body::Bytes(body)).await;
    let lines = &session.transcript().lines()[sent.transcript_lines.clone()];
    for (command, reply) in exchanges(lines) {
        let positive = reply.starts_with('2') || reply.starts_with('3');
        let text = format!("{command}: {reply}");
        report.push(if positive {
            Verdict::ok(text)
        } else {
            Verdict::fail(text)
        });
    }
    if let vmail_core::Outcome::Delivered { reply } = &sent.outcome {
        report.push(Verdict::ok(format!(
            "test message to <{to}> accepted: {} (Subject: vmail test from {host}; Message-ID: \
             {message_id})",
            reply.one_line()
        )));
        return;
    }
    let cx = Cx {
        settings,
        from,
        in_pop: false,
    };
    let verdict = match sent.error.as_ref().map(|error| diagnose(error, &cx)) {
        Some(Diagnosis::Verdict(verdict)) => verdict,
        Some(Diagnosis::Probe { fallback, .. }) => fallback,
        None => Verdict::fail(format!("test message to <{to}>: {}", sent.outcome)),
    };
    report.push(verdict);
}

/// Pairs MAIL, RCPT, DATA and the final dot with their replies, in order
/// (with PIPELINING the commands all go first, the replies follow).
fn exchanges(lines: &[TranscriptLine]) -> Vec<(String, String)> {
    let mut pending = std::collections::VecDeque::new();
    let mut pairs = Vec::new();
    for line in lines {
        match line.direction {
            Direction::Client => {
                let text = line.text.as_str();
                if ["MAIL ", "RCPT ", "DATA", "RSET"]
                    .iter()
                    .any(|verb| text.starts_with(verb))
                {
                    pending.push_back(text.to_string());
                } else if text == "." {
                    pending.push_back("end of data".to_string());
                }
            }
            // A multi-line reply ends with its `NNN ` line.
            Direction::Server if line.text.as_bytes().get(3) != Some(&b'-') => {
                if let Some(command) = pending.pop_front() {
                    pairs.push((command, line.text.clone()));
                }
            }
            Direction::Server | Direction::Note | Direction::Warning => {}
        }
    }
    pairs
}

/// This machine's name, for the test message's subject.
fn hostname(settings: &SmtpSettings) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| settings.helo_name.clone())
}

fn test_message(
    settings: &SmtpSettings,
    from: &str,
    to: &str,
    host: &str,
    stamp: &vmail_message::Stamp,
) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: vmail test from {host}\r\nDate: {}\r\n\
         Message-ID: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n\
         This is a test message sent by `vfxadmin check --send-test` on {host}\r\n\
         through {}:{} (tls={}). If you read it, vmail can send mail.\r\n",
        stamp.date_value(),
        stamp.message_id(host),
        settings.host,
        settings.port,
        settings.tls,
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(direction: Direction, text: &str) -> TranscriptLine {
        TranscriptLine {
            at: chrono::Utc::now(),
            direction,
            text: text.to_string(),
        }
    }

    #[test]
    fn pipelined_commands_pair_with_their_replies_in_order() {
        use Direction::{Client, Note, Server};
        let lines = [
            line(Client, "MAIL FROM:<a@x>"),
            line(Client, "RCPT TO:<b@y>"),
            line(Client, "DATA"),
            line(Server, "250 2.1.0 Ok"),
            line(Server, "550-5.1.1 no such user"),
            line(Server, "550 5.1.1 really"),
            line(Server, "554 5.5.1 no valid recipients"),
            line(Note, "a note"),
        ];
        assert_eq!(
            exchanges(&lines),
            vec![
                ("MAIL FROM:<a@x>".to_string(), "250 2.1.0 Ok".to_string()),
                ("RCPT TO:<b@y>".to_string(), "550 5.1.1 really".to_string()),
                (
                    "DATA".to_string(),
                    "554 5.5.1 no valid recipients".to_string()
                ),
            ]
        );
    }

    #[test]
    fn the_test_message_names_the_host_in_its_subject() {
        let settings = SmtpSettings::plain("mail.example.com", 587);
        let stamp = vmail_message::Stamp::now();
        let body = test_message(&settings, "f@x", "t@y", "faxhost", &stamp);
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains("\r\nSubject: vmail test from faxhost\r\n"),
            "{text}"
        );
        let id = format!("\r\nMessage-ID: {}\r\n", stamp.message_id("faxhost"));
        assert!(text.contains(&id), "{text}");
        assert!(text.contains("through mail.example.com:587 (tls=none)"));
    }
}
