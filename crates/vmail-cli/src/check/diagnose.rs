//! What a session error means for the administrator. The advice (the
//! `[VMAIL]` key to change) is the error's row in vmail-smtp's table
//! ([`SmtpError::facts_about`]), the same words the daemon writes in a job's
//! log; this module adds what only the check knows (the settings, the
//! sender, the probes) to say what it saw. One arm per error, no `_` arm.
//! Where one symptom has two causes, the arm asks for probes.

use super::probe::{ProbeKind, Seen, probe};
use super::{Report, Verdict, code, opened, pop_done, said, seconds};
use vmail_core::{Reply, SmtpSettings, TlsMode, TokenError};
use vmail_smtp::{
    CertificateProblem, OAuthStatus, PeerCertificate, ProtocolError, RefusedRecipient, Server,
    SessionFailure, SmtpError, Step, TlsSetupError, basic_auth_disabled, oauth_not_permitted,
};

/// What is known about the failed attempt besides the error.
pub struct Cx<'a> {
    pub settings: &'a SmtpSettings,
    pub from: &'a str,
    /// The error came from the POP-before-SMTP login, not from SMTP.
    pub in_pop: bool,
}

/// The verdict, or the probes that decide it (the first that explains the
/// symptom wins; `fallback` when none does).
pub enum Diagnosis {
    Verdict(Verdict),
    Probe {
        kinds: Vec<ProbeKind>,
        fallback: Verdict,
    },
}

/// A session that did not open: the steps that passed, then the one that
/// failed, probed when needed.
pub async fn failed(
    report: &mut Report,
    settings: &SmtpSettings,
    failure: SessionFailure,
    from: &str,
) {
    let in_pop = settings.pop.is_some() && !pop_done(&failure.transcript);
    if !in_pop {
        opened::pop_verdict(report, settings);
    }
    if !matches!(failure.error, SmtpError::Greeting { .. })
        && let Some(greeting) = super::greeting_line(&failure.transcript)
    {
        report.push(Verdict::ok(format!("greeting: {greeting}")));
    }
    if let Some(tls) = &failure.tls {
        opened::tls_verdicts(report, tls);
    }
    let cx = Cx {
        settings,
        from,
        in_pop,
    };
    let diagnosis = diagnose(&failure.error, &cx);
    report.transcript = failure.transcript;
    let verdict = resolve(diagnosis, settings, report).await;
    report.push(verdict);
}

async fn resolve(diagnosis: Diagnosis, settings: &SmtpSettings, report: &mut Report) -> Verdict {
    let (kinds, fallback) = match diagnosis {
        Diagnosis::Verdict(verdict) => return verdict,
        Diagnosis::Probe { kinds, fallback } => (kinds, fallback),
    };
    for kind in kinds {
        let (seen, record) = probe(settings, kind).await;
        report.probes.extend(record);
        if let Some(verdict) = interpret(kind, &seen, settings, report) {
            return verdict;
        }
    }
    fallback
}

/// What a probe's result says, when it explains the symptom.
fn interpret(
    kind: ProbeKind,
    seen: &Seen,
    settings: &SmtpSettings,
    report: &mut Report,
) -> Option<Verdict> {
    let port = settings.port;
    match kind {
        ProbeKind::Implicit => {
            let greeting = seen.greeting.as_ref()?;
            if report.certificate.is_none() {
                report.certificate = seen.tls.as_ref().and_then(|tls| tls.peer.clone());
            }
            Some(Verdict::fail(format!(
                "port {port} expects tls=implicit: over TLS from the first byte it greeted \
                 \"{greeting}\""
            )))
        }
        ProbeKind::PlainFirst => {
            let greeting = seen.greeting.as_ref()?;
            let starttls = seen.extensions.as_ref().is_some_and(|ext| ext.starttls);
            let advice = if starttls {
                "and offers STARTTLS; set tls=starttls"
            } else {
                "and offers no STARTTLS; use the server's implicit-TLS port (usually 465), or \
                 tls=none only on a trusted network"
            };
            Some(Verdict::fail(format!(
                "port {port} does not speak TLS from the first byte: it greeted in plain text \
                 (\"{greeting}\") {advice}"
            )))
        }
        ProbeKind::Unverified => {
            let peer = seen.tls.as_ref()?.peer.as_ref()?;
            let verdict = Verdict::fail(certificate_refused(settings, peer)?);
            report.certificate = Some(peer.clone());
            Some(verdict)
        }
        ProbeKind::FirstLine => {
            let line = seen.first_line.as_ref()?;
            Some(Verdict::fail(format!(
                "{}:{port} is not an SMTP server: it said \"{line}\" where a mail server \
                 greets with 220; check [VMAIL] mail-server and mail-port",
                settings.host
            )))
        }
        ProbeKind::StartTls => None,
    }
}

/// Why the certificate did not verify, with the fix for that reason:
/// the names to use in `mail-server`, or pinning a self-signed certificate
/// through `ca-file`. `None` when it verified.
fn certificate_refused(settings: &SmtpSettings, peer: &PeerCertificate) -> Option<String> {
    let host = &settings.host;
    if !settings.tls_fingerprints.is_empty() {
        // The pins replace the CA check: only a mismatch is a refusal.
        return (!settings.tls_fingerprints.contains(&peer.fingerprint))
            .then(|| not_pinned(host, peer));
    }
    Some(match peer.problem()? {
        CertificateProblem::SelfSigned => self_signed(settings, peer),
        CertificateProblem::WrongName { names } => wrong_name(host, names, peer),
        CertificateProblem::Expired
        | CertificateProblem::NotYetValid
        | CertificateProblem::UnknownIssuer
        | CertificateProblem::Other(_) => format!(
            "the TLS certificate of {host} is not verified ({}): subject {}, issuer {}, valid \
             until {}; if the server uses a private CA, set [VMAIL] ca-file to that CA's PEM \
             file; if the name differs, set mail-server to a name the certificate carries; \
             {VERIFY_OFF}",
            super::why_not_verified(peer),
            peer.subject,
            peer.issuer,
            peer.not_after
        ),
    })
}

/// The way out of every certificate refusal, named last because it gives
/// up what the check is for.
const VERIFY_OFF: &str = "tls-verify=no turns the check off (not recommended)";

/// A changed certificate is either the server's own renewal, which the
/// pin list must learn, or someone else answering for the host.
fn not_pinned(host: &str, peer: &PeerCertificate) -> String {
    format!(
        "the TLS certificate of {host} has the fingerprint {}, which is not in [VMAIL] \
         tls-fingerprint (subject {}, issuer {}, valid until {}): if the server's \
         certificate was changed on purpose, add that fingerprint to tls-fingerprint \
         (comma-separated); otherwise something else answers for {host}",
        peer.fingerprint, peer.subject, peer.issuer, peer.not_after
    )
}

/// No CA vouches for it, so the fix is to trust this very certificate:
/// the fingerprint to pin, or the command that saves it for `ca-file`
/// (with `-starttls smtp` when the port starts in plain text).
fn self_signed(settings: &SmtpSettings, peer: &PeerCertificate) -> String {
    let host = &settings.host;
    let port = settings.port;
    format!(
        "the TLS certificate of {host} is self-signed (subject {}, valid until {}): no CA \
         vouches for it. If it is the server's own, pin it: set [VMAIL] tls-fingerprint = \
         {} (or save it as PEM with `openssl s_client -connect {host}:{port}{} -showcerts` \
         and set ca-file to that file); better, give the server a certificate from a CA; \
         {VERIFY_OFF}",
        peer.subject,
        peer.not_after,
        peer.fingerprint,
        if settings.tls == TlsMode::StartTls {
            " -starttls smtp"
        } else {
            ""
        },
    )
}

/// A certificate for other names is fixed in `mail-server`, when it names
/// any; one that names none only its issuer can fix.
fn wrong_name(host: &str, names: &[String], peer: &PeerCertificate) -> String {
    let use_instead = match names {
        [] => {
            return format!(
                "the TLS certificate of {host} names no host (subject {}, issuer {}): ask the \
                 server's administrator for a certificate with {host} in its subjectAltName; \
                 {VERIFY_OFF}",
                peer.subject, peer.issuer
            );
        }
        [one] => one.clone(),
        many => format!("one of {}", many.join(", ")),
    };
    format!(
        "the TLS certificate of {host} is for {}, not for {host}: set [VMAIL] mail-server \
         to {use_instead} (subject {}, issuer {})",
        names.join(", "),
        peer.subject,
        peer.issuer
    )
}

/// The verdict for one error: what the check saw (with the settings, the
/// sender and the probes it knows), then the advice from the error's row in
/// vmail-smtp's table, the same words the daemon writes in a job's log.
pub fn diagnose(error: &SmtpError, cx: &Cx<'_>) -> Diagnosis {
    use SmtpError as E;
    let advice = &table_advice(error, cx);
    match error {
        E::Connect { host, port, source } => fail(connect_failed(host, *port, source, advice)),
        E::Timeout { step, .. } => timeout(cx, *step, advice),
        E::ConnectionClosed { step } => closed(cx, *step, advice),
        E::Io { step, source } => fail(network_error(*step, source, &cx.settings.host)),
        E::Protocol { step, detail } => not_smtp(cx, *step, detail, advice),
        E::Greeting { reply } => fail(greeting_refused(reply, advice)),
        E::Helo { reply } => fail(helo_refused(reply, &cx.settings.helo_name, advice)),
        E::StartTlsNotOffered { .. } => fail(starttls_not_offered(advice)),
        E::StartTlsRefused { reply } => fail(starttls_refused(reply, advice)),
        E::Tls { host, detail } => tls_failed(cx, host, detail, advice),
        E::TlsConfig { detail } => fail(tls_not_set_up(detail, advice)),
        E::PlaintextAuthRefused => fail(plaintext_auth_refused(cx.settings, advice)),
        // The advice is the whole verdict: which auth-type would work.
        E::AuthMechanismNotOffered { .. } => fail(advice.to_string()),
        E::AuthMissingResponses {
            mechanism,
            needed,
            found,
        } => fail(responses_missing(mechanism, needed, *found, advice)),
        E::AuthRejected { mechanism, reply } => fail(auth_rejected(mechanism, reply, advice)),
        E::AuthBadChallenge { mechanism, reply } => fail(bad_challenge(mechanism, reply, advice)),
        E::OAuthToken {
            error, rejected, ..
        } => fail(token_missing(cx, error, rejected.as_ref(), advice)),
        E::OAuthRejected {
            user,
            reply,
            status,
            refreshed,
            ..
        } => fail(oauth_rejected(
            user,
            reply,
            status.as_deref(),
            *refreshed,
            advice,
        )),
        E::Pop {
            host,
            port,
            command,
            response,
        } => fail(pop_login_failed(host, *port, command, response, advice)),
        E::MailFrom { reply } => fail(sender_refused(cx.from, reply, advice)),
        E::RecipientsRefused { refused } => fail(recipients_refused(refused, advice)),
        E::Recipient { address, reply } => fail(recipient_refused(address, reply, advice)),
        E::Data { reply } => fail(refused(reply, "DATA")),
        E::DataEnd { reply } => fail(refused(reply, "the test message after its data")),
        // Each server is checked alone: only a caller giving several at once meets this.
        E::AllServersFailed { .. } => fail(format!("{error}; {advice}")),
        E::SizeExceeded { .. }
        | E::NeedsSmtpUtf8 { .. }
        | E::Body { .. }
        | E::BodyRead { .. }
        | E::Rset { .. } => fail(error.to_string()),
    }
}

/// The check saw enough to say why: no probe is needed.
fn fail(text: String) -> Diagnosis {
    Diagnosis::Verdict(Verdict::fail(text))
}

/// The error's row in vmail-smtp's table, so that the check and the job's
/// log give the same advice; a failed POP-before-SMTP login is advised
/// from its own row (the pop-* keys, not the SMTP ones).
fn table_advice(error: &SmtpError, cx: &Cx<'_>) -> String {
    let server = if cx.in_pop { Server::Pop } else { Server::Smtp };
    error
        .facts_about(server)
        .advice
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// Names the host itself, which the table's advice cannot.
fn network_error(step: Step, source: &std::io::Error, host: &str) -> String {
    format!("network error during {step}: {source}; check the network between this host and {host}")
}

/// The table's advice leads: the greeting's own text is often a bare
/// "go away", so it comes last, as what the server said.
fn greeting_refused(reply: &Reply, advice: &str) -> String {
    format!("{}: {advice} (it said: {})", code(reply), said(reply))
}

/// The HELO name is in the verdict because a refusal of EHLO is most often
/// a refusal of that name.
fn helo_refused(reply: &Reply, helo_name: &str, advice: &str) -> String {
    refused_because(reply, &format!("EHLO and HELO {helo_name}"), advice)
}

/// `tls=starttls` asks for what the server lacks: the advice says which
/// setting its port calls for.
fn starttls_not_offered(advice: &str) -> String {
    format!("tls=starttls, but the server does not offer STARTTLS; {advice}")
}

/// STARTTLS was offered, so the refusal is the server's trouble with TLS,
/// not a setting that asks for something the server lacks.
fn starttls_refused(reply: &Reply, advice: &str) -> String {
    format!(
        "{}: the server offers STARTTLS but refused it ({}); {advice}",
        code(reply),
        said(reply)
    )
}

/// Before any connection: the trust anchors or the client certificate
/// could not be loaded, so no server would do better.
fn tls_not_set_up(detail: &TlsSetupError, advice: &str) -> String {
    format!("TLS cannot be set up: {detail}; {advice}")
}

/// The count found tells a missing password from a missing user name.
fn responses_missing(mechanism: &str, needed: &str, found: usize, advice: &str) -> String {
    format!("AUTH {mechanism} needs {needed} in [VMAIL] auth-rsp, which holds {found}; {advice}")
}

/// The challenge text is not quoted: it is not valid base64, so it is no
/// help to read.
fn bad_challenge(mechanism: &str, reply: &Reply, advice: &str) -> String {
    format!(
        "{}: the server's AUTH {mechanism} challenge is not valid base64; {advice}",
        code(reply)
    )
}

/// Something answered that is not SMTP: at the greeting, perhaps a TLS
/// port spoken to in clear, which a probe can tell.
/// At the greeting, a second connection reads the first line the server
/// sends, to show it: the parser's own error (`SyntaxError { syntax:
/// "Invalid response code" }`) tells an administrator nothing.
fn not_smtp(cx: &Cx<'_>, step: Step, detail: &ProtocolError, advice: &str) -> Diagnosis {
    let s = cx.settings;
    if step == Step::Greeting {
        let fallback = Verdict::fail(format!(
            "the greeting of {}:{} is not SMTP: is it a mail server? check [VMAIL] mail-server \
             and mail-port",
            s.host, s.port
        ));
        return probe_then(vec![ProbeKind::FirstLine], fallback);
    }
    Diagnosis::Verdict(Verdict::fail(format!(
        "the answer during {step} is not SMTP ({detail}): is {}:{} a mail server? {advice}",
        s.host, s.port
    )))
}

fn plaintext_auth_refused(settings: &SmtpSettings, advice: &str) -> String {
    // A bearer token read off the wire logs in as well as a password.
    let what = if settings.oauth.is_some() {
        "the OAuth2 token"
    } else {
        "the password"
    };
    format!(
        "the server offers AUTH on an unencrypted connection, and vmail does not send {what} \
         in clear: {advice}"
    )
}

fn refused(reply: &Reply, what: &str) -> String {
    format!(
        "{}: the server refused {what} ({})",
        code(reply),
        said(reply)
    )
}

/// A refusal the table has advice for: the same words, then the advice.
fn refused_because(reply: &Reply, what: &str, advice: &str) -> String {
    format!("{}; {advice}", refused(reply, what))
}

fn probe_then(kinds: Vec<ProbeKind>, fallback: Verdict) -> Diagnosis {
    Diagnosis::Probe { kinds, fallback }
}

fn connect_failed(host: &str, port: u16, source: &std::io::Error, advice: &str) -> String {
    if source.kind() == std::io::ErrorKind::ConnectionRefused {
        format!("connection refused by {host}:{port}: nothing listens there; {advice}")
    } else {
        format!("cannot connect to {host}:{port} ({source}); {advice}")
    }
}

fn timeout(cx: &Cx<'_>, step: Step, advice: &str) -> Diagnosis {
    let s = cx.settings;
    let t = seconds(s.timeout);
    match step {
        Step::Connect => fail(format!(
            "no answer within {t} s when connecting: the host is down or a firewall drops the \
             connection; {advice}"
        )),
        Step::Pop => fail(format!(
            "the POP3 server did not answer within {t} s; {advice}"
        )),
        Step::Greeting if s.tls != TlsMode::Implicit => probe_then(
            vec![ProbeKind::Implicit],
            Verdict::fail(format!(
                "no greeting from {}:{} within {t} s (nor over TLS): the server is overloaded \
                 or is not a mail server; {advice}",
                s.host, s.port
            )),
        ),
        // With implicit TLS a silent handshake is more often a plain port
        // than a slow server: the keys to check are the port and tls.
        Step::TlsHandshake if s.tls == TlsMode::Implicit && !cx.in_pop => probe_then(
            vec![ProbeKind::PlainFirst],
            Verdict::fail(format!(
                "the TLS handshake with {}:{} got no answer within {t} s; check [VMAIL] \
                 mail-port and tls",
                s.host, s.port
            )),
        ),
        other => fail(format!(
            "no answer from the server within {t} s during {other}; {advice}"
        )),
    }
}

fn closed(cx: &Cx<'_>, step: Step, advice: &str) -> Diagnosis {
    let s = cx.settings;
    match step {
        Step::Greeting if s.tls != TlsMode::Implicit => probe_then(
            vec![ProbeKind::Implicit],
            Verdict::fail(format!(
                "the server closed the connection before its greeting: it refuses this host, or \
                 is not a mail server; {advice}"
            )),
        ),
        Step::TlsHandshake if s.tls == TlsMode::Implicit && !cx.in_pop => probe_then(
            vec![ProbeKind::PlainFirst],
            Verdict::fail("the server closed the connection during the TLS handshake".to_string()),
        ),
        other => Diagnosis::Verdict(Verdict::fail(format!(
            "the server closed the connection during {other}"
        ))),
    }
}

fn tls_failed(cx: &Cx<'_>, host: &str, detail: &str, advice: &str) -> Diagnosis {
    let s = cx.settings;
    if cx.in_pop {
        return Diagnosis::Verdict(Verdict::fail(format!(
            "TLS with the POP3 server {host} failed: {detail}; {advice}"
        )));
    }
    let mut kinds = Vec::new();
    if s.tls_verify {
        kinds.push(ProbeKind::Unverified);
    }
    if s.tls == TlsMode::Implicit {
        kinds.push(ProbeKind::PlainFirst);
    }
    probe_then(
        kinds,
        Verdict::fail(format!(
            "TLS with {host}:{} failed: {detail}; {advice}",
            s.port
        )),
    )
}

fn auth_rejected(mechanism: &str, reply: &Reply, advice: &str) -> String {
    if basic_auth_disabled(reply) {
        return basic_auth_off(reply, advice);
    }
    let code = code(reply);
    match reply.code {
        535 => format!(
            "{code}: the server rejected the user or password in [VMAIL] auth-rsp; {advice}"
        ),
        534 => format!(
            "{code}: the server wants a stronger mechanism than {mechanism} ({}); {advice}",
            said(reply)
        ),
        400..=499 => format!(
            "{code}: the server could not check the login now ({}); {advice}",
            said(reply)
        ),
        _ => format!(
            "{code}: the server refused AUTH {mechanism} ({}); {advice}",
            said(reply)
        ),
    }
}

fn basic_auth_off(reply: &Reply, advice: &str) -> String {
    format!(
        "{}: the tenant has switched password (Basic) logins off, so no password in \
         auth-rsp will work ({}); {advice}",
        code(reply),
        said(reply)
    )
}

/// The server refused the token. Microsoft's `535 5.7.3` after a token it
/// could validate means the app or the mailbox is not allowed SMTP.
fn oauth_rejected(
    user: &str,
    reply: &Reply,
    status: Option<&OAuthStatus>,
    refreshed: bool,
    advice: &str,
) -> String {
    let code = code(reply);
    let status = status.map(|s| format!("; {s}")).unwrap_or_default();
    if reply.is_transient() {
        return format!(
            "{code}: the server could not check the OAuth2 token now ({}{status}); {advice}",
            said(reply)
        );
    }
    if oauth_not_permitted(reply) {
        return format!(
            "{code}: the OAuth2 token for {user} was refused ({}{status}): {advice}",
            said(reply)
        );
    }
    let again = if refreshed {
        ", a freshly fetched one too"
    } else {
        ""
    };
    format!(
        "{code}: the server rejected the OAuth2 token for {user} ({}{status}){again}: {advice}",
        said(reply)
    )
}

/// No token could be had: the token source's own summary, from which
/// endpoint, and the advice.
fn token_missing(
    cx: &Cx<'_>,
    error: &TokenError,
    rejected: Option<&Reply>,
    advice: &str,
) -> String {
    let endpoint = cx
        .settings
        .oauth
        .as_ref()
        .map(|o| o.token_url.as_str())
        .unwrap_or("the token endpoint");
    match rejected {
        Some(reply) => format!(
            "{}: the server refused the OAuth2 token ({}), and no new one came from {endpoint}: \
             {}; {advice}",
            code(reply),
            said(reply),
            error.summary
        ),
        None => format!(
            "no OAuth2 token from {endpoint}: {}; {advice}",
            error.summary
        ),
    }
}

/// The POP3 command and the server's answer say whether the user, the
/// password or the server refused.
fn pop_login_failed(host: &str, port: u16, command: &str, response: &str, advice: &str) -> String {
    format!("POP-before-SMTP login to {host}:{port} failed at {command} ({response}); {advice}")
}

fn sender_refused(from: &str, reply: &Reply, advice: &str) -> String {
    if basic_auth_disabled(reply) {
        return basic_auth_off(reply, advice);
    }
    refused_because(reply, &format!("the sender <{from}> in MAIL FROM"), advice)
}

/// The first refusal speaks for the others: a test message has one
/// recipient.
fn recipients_refused(refused: &[RefusedRecipient], advice: &str) -> String {
    match refused.first() {
        Some(first) => recipient_refused(&first.address, &first.reply, advice),
        None => "the server refused every recipient".to_string(),
    }
}

fn recipient_refused(address: &str, reply: &Reply, advice: &str) -> String {
    refused_because(reply, &format!("the recipient <{address}>"), advice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmail_core::{EnhancedCode, TokenErrorKind};

    fn text(error: SmtpError, settings: &SmtpSettings) -> String {
        let cx = Cx {
            settings,
            from: "fax@example.test",
            in_pop: false,
        };
        match diagnose(&error, &cx) {
            Diagnosis::Verdict(verdict) => verdict.text,
            Diagnosis::Probe { fallback, .. } => format!("probe, else: {}", fallback.text),
        }
    }

    #[test]
    fn starttls_not_offered_on_465_says_implicit() {
        let settings = SmtpSettings::plain("mail.example.com", 465);
        assert_eq!(
            text(SmtpError::StartTlsNotOffered { port: 465 }, &settings),
            "tls=starttls, but the server does not offer STARTTLS; port 465 expects tls=implicit"
        );
    }

    #[test]
    fn a_missing_mechanism_names_what_to_set() {
        let settings = SmtpSettings::plain("127.0.0.1", 25);
        let mechanism_not_offered = |wanted: &str, offered: Vec<String>| {
            let error = SmtpError::AuthMechanismNotOffered {
                wanted: wanted.to_string(),
                offered,
            };
            text(error, &settings)
        };
        let offered = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            mechanism_not_offered("PLAIN", offered(&["CRAM-MD5"])),
            "the server offers only CRAM-MD5; set auth-type=cram-md5"
        );
        assert_eq!(
            mechanism_not_offered("CRAM-MD5", offered(&["PLAIN", "LOGIN"])),
            "the server does not offer AUTH CRAM-MD5; it offers PLAIN LOGIN; set auth-type=auto \
             or auth-type=plain or auth-type=login"
        );
        assert_eq!(
            mechanism_not_offered("PLAIN", offered(&["XOAUTH2"])),
            "the server offers only XOAUTH2; set auth-type=xoauth2 and the oauth-* keys \
             (docs/oauth.md)"
        );
        assert_eq!(
            mechanism_not_offered("PLAIN", offered(&["GSSAPI", "NTLM"])),
            "the server offers AUTH GSSAPI NTLM, none of which vmail speaks (PLAIN, LOGIN, \
             CRAM-MD5, XOAUTH2, OAUTHBEARER); ask the mail server's administrator"
        );
        assert_eq!(
            mechanism_not_offered(
                "OAUTHBEARER or XOAUTH2 (auth-type=auto with the oauth-* keys set)",
                offered(&["PLAIN", "LOGIN"])
            ),
            "the server offers no OAuth2 login (it offers AUTH PLAIN LOGIN): check [VMAIL] \
             mail-server and mail-port (Microsoft 365: smtp.office365.com 587; Google: \
             smtp.gmail.com 587), or remove the oauth-* keys to log in with auth-rsp"
        );
    }

    #[test]
    fn auth_replies_other_than_535() {
        let settings = SmtpSettings::plain("127.0.0.1", 25);
        let auth_rejected =
            |mechanism, reply| text(SmtpError::AuthRejected { mechanism, reply }, &settings);
        let reply = |code, enhanced: Option<(u8, u16, u16)>, text: &str| {
            Reply::new(
                code,
                enhanced.map(|(a, b, c)| EnhancedCode::new(a, b, c)),
                text,
            )
        };
        assert_eq!(
            auth_rejected("LOGIN", reply(454, Some((4, 7, 0)), "Temporary failure")),
            "454 4.7.0: the server could not check the login now (Temporary failure); try again \
             later"
        );
        assert_eq!(
            auth_rejected("PLAIN", reply(534, None, "use a stronger one")),
            "534: the server wants a stronger mechanism than PLAIN (use a stronger one); set \
             auth-type=auto"
        );
    }

    #[test]
    fn a_greeting_timeout_asks_for_the_implicit_probe_unless_implicit() {
        let mut settings = SmtpSettings::plain("127.0.0.1", 2525);
        let timeout = || SmtpError::Timeout {
            step: Step::Greeting,
            seconds: 60.0,
        };
        let cx = Cx {
            settings: &settings,
            from: "",
            in_pop: false,
        };
        assert!(matches!(
            diagnose(&timeout(), &cx),
            Diagnosis::Probe { ref kinds, .. } if kinds == &[ProbeKind::Implicit]
        ));
        settings.tls = TlsMode::Implicit;
        assert!(text(timeout(), &settings).starts_with("no answer from the server within 60 s"));
    }

    #[test]
    fn a_pop_connect_failure_names_the_pop_keys() {
        let settings = SmtpSettings::plain("127.0.0.1", 25);
        let cx = Cx {
            settings: &settings,
            from: "",
            in_pop: true,
        };
        let refused = SmtpError::Connect {
            host: "pop.example.com".into(),
            port: 110,
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let Diagnosis::Verdict(verdict) = diagnose(&refused, &cx) else {
            panic!("a refused connection needs no probe");
        };
        assert_eq!(
            verdict.text,
            "connection refused by pop.example.com:110: nothing listens there; check [VMAIL] \
             pop-server and pop-port"
        );
    }

    fn reply(code: u16, enhanced: (u8, u16, u16), text: &str) -> Reply {
        let (a, b, c) = enhanced;
        Reply::new(code, Some(EnhancedCode::new(a, b, c)), text)
    }

    const BASIC_OFF: &str = "the tenant has switched password (Basic) logins off, so no \
        password in auth-rsp will work";

    #[test]
    fn microsofts_basic_auth_refusals_point_to_the_oauth_keys() {
        let settings = SmtpSettings::plain("smtp.office365.com", 587);
        let refused_at_auth = SmtpError::AuthRejected {
            mechanism: "LOGIN",
            reply: reply(
                535,
                (5, 7, 139),
                "Authentication unsuccessful, basic authentication is disabled.",
            ),
        };
        assert_eq!(
            text(refused_at_auth, &settings),
            format!(
                "535 5.7.139: {BASIC_OFF} (Authentication unsuccessful, basic authentication \
                 is disabled.); log in with an OAuth2 token instead: set [VMAIL] auth-type = \
                 xoauth2, oauth-provider = microsoft, oauth-tenant = <the directory id or \
                 domain>, oauth-client-id = <the app's id>, oauth-client-secret (sealed with \
                 `vfxadmin config -a -p -e VMAIL oauth-client-secret`), oauth-user = <the \
                 mailbox to send as>; docs/oauth.md shows the app registration step by step"
            )
        );
        let submission = reply(
            550,
            (5, 7, 30),
            "Basic authentication is not supported for Client Submission.",
        );
        for error in [
            SmtpError::AuthRejected {
                mechanism: "PLAIN",
                reply: submission.clone(),
            },
            SmtpError::MailFrom {
                reply: submission.clone(),
            },
        ] {
            let verdict = text(error, &settings);
            assert!(verdict.starts_with("550 5.7.30: "), "{verdict}");
            assert!(verdict.contains(BASIC_OFF), "{verdict}");
            for key in [
                "auth-type = xoauth2",
                "oauth-provider = microsoft",
                "oauth-tenant",
                "oauth-client-id",
                "oauth-client-secret",
                "oauth-user",
                "docs/oauth.md",
            ] {
                assert!(verdict.contains(key), "{key} missing: {verdict}");
            }
        }
        // An ordinary 535 keeps its own advice.
        let wrong = SmtpError::AuthRejected {
            mechanism: "LOGIN",
            reply: reply(535, (5, 7, 8), "Error: authentication failed"),
        };
        assert!(text(wrong, &settings).contains("rejected the user or password"));
    }

    #[test]
    fn a_535_5_7_3_after_a_token_names_the_permission_and_how_to_check() {
        let settings = SmtpSettings::plain("smtp.office365.com", 587);
        let error = SmtpError::OAuthRejected {
            mechanism: "XOAUTH2",
            user: "fax@contoso.com".into(),
            reply: reply(535, (5, 7, 3), "Authentication unsuccessful"),
            status: None,
            refreshed: true,
        };
        assert_eq!(
            text(error, &settings),
            "535 5.7.3: the OAuth2 token for fax@contoso.com was refused (Authentication \
             unsuccessful): the app lacks the SMTP send permission, or SMTP AUTH is disabled \
             on the mailbox. Check in Entra ID that the app has Office 365 Exchange Online \
             SMTP.SendAsApp with admin consent; in Exchange Online PowerShell, `Set-CASMailbox \
             -Identity fax@contoso.com -SmtpClientAuthenticationDisabled $false`, the app's \
             Exchange service principal (`New-ServicePrincipal -AppId <oauth-client-id> \
             -ObjectId <the enterprise app's object id>`) and its right to the mailbox \
             (`Add-MailboxPermission -Identity fax@contoso.com -User <the service principal's \
             id> -AccessRights FullAccess`); see docs/oauth.md"
        );
    }

    #[test]
    fn other_oauth_refusals_show_the_decoded_status() {
        let settings = SmtpSettings::plain("smtp.gmail.com", 587);
        let status = OAuthStatus {
            status: Some("401".into()),
            schemes: Some("bearer".into()),
            scope: Some("https://mail.google.com/".into()),
        };
        let refused = SmtpError::OAuthRejected {
            mechanism: "OAUTHBEARER",
            user: "fax@example.com".into(),
            reply: reply(535, (5, 7, 8), "Username and Password not accepted"),
            status: Some(Box::new(status)),
            refreshed: true,
        };
        assert_eq!(
            text(refused, &settings),
            "535 5.7.8: the server rejected the OAuth2 token for fax@example.com (Username and \
             Password not accepted; status 401, schemes bearer, scope https://mail.google.com/), \
             a freshly fetched one too: check that [VMAIL] oauth-user is the mailbox the app \
             may send as, that oauth-scope is the one the server asks for, and the app's \
             permissions (docs/oauth.md)"
        );
        let busy = SmtpError::OAuthRejected {
            mechanism: "XOAUTH2",
            user: "fax@example.com".into(),
            reply: reply(454, (4, 7, 0), "Temporary authentication failure"),
            status: None,
            refreshed: false,
        };
        assert_eq!(
            text(busy, &settings),
            "454 4.7.0: the server could not check the OAuth2 token now (Temporary \
             authentication failure); try again later"
        );
    }

    #[test]
    fn a_missing_token_says_why_and_which_key() {
        let settings = SmtpSettings::plain("smtp.office365.com", 587);
        let error = |kind, advice: Option<&str>, rejected| SmtpError::OAuthToken {
            mechanism: "XOAUTH2",
            error: TokenError {
                kind,
                summary: "invalid_client (AADSTS7000215: the client secret is wrong)".into(),
                advice: advice.map(String::from),
            },
            rejected,
        };
        assert_eq!(
            text(
                error(
                    TokenErrorKind::InvalidClient,
                    Some("set [VMAIL] oauth-client-secret to the secret's value, not its id"),
                    None
                ),
                &settings
            ),
            "no OAuth2 token from the token endpoint: invalid_client (AADSTS7000215: the \
             client secret is wrong); set [VMAIL] oauth-client-secret to the secret's value, \
             not its id"
        );
        assert_eq!(
            text(error(TokenErrorKind::InvalidClient, None, None), &settings),
            "no OAuth2 token from the token endpoint: invalid_client (AADSTS7000215: the \
             client secret is wrong); check [VMAIL] oauth-client-id and oauth-client-secret \
             (an expired secret needs a new one from the app registration)"
        );
        let rejected = Some(reply(535, (5, 7, 8), "bad token"));
        assert_eq!(
            text(
                error(TokenErrorKind::Unreachable, None, rejected),
                &settings
            ),
            "535 5.7.8: the server refused the OAuth2 token (bad token), and no new one came \
             from the token endpoint: invalid_client (AADSTS7000215: the client secret is \
             wrong); check that this host reaches [VMAIL] oauth-token-url (DNS, firewall, \
             proxy) and ca-file"
        );
    }

    /// The verdict ends with the advice the daemon writes in a job's log:
    /// one table, the same words in both places.
    #[test]
    fn verdicts_end_with_the_tables_advice() {
        let settings = SmtpSettings::plain("mail.example.com", 587);
        let errors = [
            SmtpError::Helo {
                reply: reply(501, (5, 5, 4), "bad name"),
            },
            SmtpError::StartTlsNotOffered { port: 587 },
            SmtpError::PlaintextAuthRefused,
            SmtpError::AuthRejected {
                mechanism: "LOGIN",
                reply: reply(535, (5, 7, 8), "bad"),
            },
            SmtpError::AuthBadChallenge {
                mechanism: "CRAM-MD5",
                reply: reply(334, (0, 0, 0), "%%%"),
            },
            SmtpError::MailFrom {
                reply: reply(553, (5, 7, 1), "not yours"),
            },
            SmtpError::Recipient {
                address: "nobody@example.com".into(),
                reply: reply(550, (5, 1, 1), "unknown"),
            },
            SmtpError::Pop {
                host: "pop.example.com".into(),
                port: 110,
                command: "PASS",
                response: "-ERR denied".into(),
            },
        ];
        for error in errors {
            let advice = error.advice().map(|a| a.to_string()).unwrap_or_default();
            let verdict = text(error, &settings);
            assert!(
                !advice.is_empty() && verdict.ends_with(&advice),
                "{verdict}"
            );
        }
    }

    /// The name to put in mail-server: the certificate's only name, one of
    /// its names, or none at all, when only its issuer can help.
    #[test]
    fn a_certificate_for_other_names_says_which_name_to_use() {
        let peer = |names: &[&str]| PeerCertificate {
            subject: "CN=mx1.example.net".into(),
            issuer: "CN=Example CA".into(),
            not_after: "2027-06-30T00:00:00Z".into(),
            verification: Ok(()),
            check: vmail_smtp::CertificateCheck::Chain,
            fingerprint: vmail_core::Fingerprint([0; 32]),
            names: names.iter().map(|n| n.to_string()).collect(),
            self_signed: false,
        };
        let wrong = |names: &[&str]| {
            let peer = peer(names);
            wrong_name("mail.example.com", &peer.names, &peer)
        };
        assert_eq!(
            wrong(&["mx1.example.net"]),
            "the TLS certificate of mail.example.com is for mx1.example.net, not for \
             mail.example.com: set [VMAIL] mail-server to mx1.example.net (subject \
             CN=mx1.example.net, issuer CN=Example CA)"
        );
        assert_eq!(
            wrong(&["mx1.example.net", "mx2.example.net"]),
            "the TLS certificate of mail.example.com is for mx1.example.net, mx2.example.net, \
             not for mail.example.com: set [VMAIL] mail-server to one of mx1.example.net, \
             mx2.example.net (subject CN=mx1.example.net, issuer CN=Example CA)"
        );
        assert_eq!(
            wrong(&[]),
            "the TLS certificate of mail.example.com names no host (subject CN=mx1.example.net, \
             issuer CN=Example CA): ask the server's administrator for a certificate with \
             mail.example.com in its subjectAltName; tls-verify=no turns the check off (not \
             recommended)"
        );
    }

    #[test]
    fn plaintext_auth_refused_says_token_when_oauth_is_set() {
        let mut settings = SmtpSettings::plain("127.0.0.1", 25);
        assert!(
            text(SmtpError::PlaintextAuthRefused, &settings)
                .contains("vmail does not send the password in clear")
        );
        settings.oauth = Some(vmail_core::OAuthSettings {
            provider: vmail_core::OAuthProvider::Google,
            grant: vmail_core::OAuthGrant::ServiceAccount,
            tenant: None,
            client_id: "id".into(),
            client_secret: None,
            key_file: None,
            user: "fax@example.com".into(),
            scope: "https://mail.google.com/".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            device_url: None,
            ca_file: None,
        });
        assert_eq!(
            text(SmtpError::PlaintextAuthRefused, &settings),
            "the server offers AUTH on an unencrypted connection, and vmail does not send the \
             OAuth2 token in clear: use tls=starttls, or tls=implicit on the server's TLS port, \
             or set [VMAIL] allow-plaintext-auth=yes on a trusted network"
        );
        let no_token = SmtpError::OAuthToken {
            mechanism: "XOAUTH2",
            error: TokenError {
                kind: TokenErrorKind::Unreachable,
                summary: "connection refused".into(),
                advice: None,
            },
            rejected: None,
        };
        assert!(
            text(no_token, &settings)
                .starts_with("no OAuth2 token from https://oauth2.googleapis.com/token: ")
        );
    }
}
