//! One table of what every session error means: whether the job waits or
//! fails, what the error does to the connection, the server's reply that
//! caused it, and what the administrator changes. [`crate::classify`], the
//! session's "can another message go?" and "is QUIT still worth saying?",
//! the daemon's job log and `vfxadmin check` all read it, so a fact about an
//! error is written once. The match in [`SmtpError::facts_about`] has no `_`
//! arm: a new variant does not compile until its row is written.

use crate::error::{RefusedRecipient, ServerFailure, SmtpError, Step};
use std::borrow::Cow;
use std::fmt;
use vmail_core::{Reply, TokenError, TokenErrorKind};

/// Whether a job that met the error waits for another attempt or gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Deferred,
    Failed,
}

/// What the error does to the connection it happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEffect {
    /// Only this message is concerned: the next one goes over the same
    /// session.
    Continues,
    /// No further message can go over the session, but the server still
    /// listens: QUIT is said.
    Ends,
    /// The connection itself is gone or unusable (timeout, reset, TLS
    /// failure, a body cut off in DATA): not even QUIT is sent.
    Lost,
}

/// The server an error's advice is about. Connecting, TLS and timeouts
/// happen with the POP-before-SMTP server too, and its keys differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Smtp,
    Pop,
}

impl Server {
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            Server::Smtp => ("mail-server", "mail-port"),
            Server::Pop => ("pop-server", "pop-port"),
        }
    }
}

/// What the administrator does about an error: which `[VMAIL]` key to
/// change, or that waiting or the server's administrator is the cure. The
/// same words go into the job's log and into `vfxadmin check`'s verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice(Cow<'static, str>);

impl Advice {
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&'static str> for Advice {
    fn from(text: &'static str) -> Advice {
        Advice(Cow::Borrowed(text))
    }
}

impl From<String> for Advice {
    fn from(text: String) -> Advice {
        Advice(Cow::Owned(text))
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFacts<'a> {
    pub class: Class,
    pub session: SessionEffect,
    /// The server's reply that decided the class, when there is one.
    pub reply: Option<&'a Reply>,
    /// `None` when there is nothing to change (the server refused this one
    /// message, the body could not be read).
    pub advice: Option<Advice>,
}

fn row(
    class: Class,
    session: SessionEffect,
    reply: Option<&Reply>,
    advice: Option<Advice>,
) -> ErrorFacts<'_> {
    ErrorFacts {
        class,
        session,
        reply,
        advice,
    }
}

/// 5xx fails, anything else waits.
fn by_reply(reply: &Reply) -> Class {
    if reply.is_permanent() {
        Class::Failed
    } else {
        Class::Deferred
    }
}

impl SmtpError {
    /// The error's row, with advice about the mail server's keys.
    pub fn facts(&self) -> ErrorFacts<'_> {
        self.facts_about(Server::Smtp)
    }

    /// The error's row; `server` says whose keys the advice names.
    pub fn facts_about(&self, server: Server) -> ErrorFacts<'_> {
        use Class::{Deferred, Failed};
        use SessionEffect::{Continues, Ends, Lost};
        let (host_key, port_key) = server.keys();
        let mut facts = match self {
            // Network, TLS, timeouts and the server's mood: try again later.
            SmtpError::Connect { source, .. } => {
                row(Deferred, Lost, None, Some(connect(server, source)))
            }
            SmtpError::Timeout { step, .. } => {
                row(Deferred, Lost, None, Some(timeout(server, *step)))
            }
            SmtpError::ConnectionClosed { step } => {
                let advice = (*step == Step::Greeting)
                    .then(|| Advice::from("ask the mail server's administrator"));
                row(Deferred, Lost, None, advice)
            }
            SmtpError::Io { .. } => row(
                Deferred,
                Lost,
                None,
                Some(format!("check the network between this host and [VMAIL] {host_key}").into()),
            ),
            SmtpError::Protocol { .. } => row(
                Deferred,
                Ends,
                None,
                Some(format!("check [VMAIL] {host_key} and {port_key}").into()),
            ),
            SmtpError::Greeting { reply } => {
                row(Deferred, Ends, Some(reply), Some(greeting(reply)))
            }
            SmtpError::Helo { reply } => row(
                Deferred,
                Ends,
                Some(reply),
                Some("set [VMAIL] helo-name to this host's full DNS name".into()),
            ),
            SmtpError::StartTlsNotOffered { port } => {
                row(Deferred, Ends, None, Some(starttls_not_offered(*port)))
            }
            SmtpError::StartTlsRefused { reply } => row(
                Deferred,
                Ends,
                Some(reply),
                Some("try again later, or ask the mail server's administrator".into()),
            ),
            SmtpError::Tls { .. } => row(Deferred, Lost, None, Some(tls(server))),
            SmtpError::TlsConfig { .. } => row(
                Deferred,
                Ends,
                None,
                Some("check [VMAIL] ca-file (a PEM file of CA certificates)".into()),
            ),
            SmtpError::Rset { reply } => row(Deferred, Ends, Some(reply), None),
            SmtpError::Body { .. } => row(Deferred, Continues, None, None),
            SmtpError::BodyRead { .. } => row(Deferred, Lost, None, None),
            // Login problems are configuration problems: a typo in auth-rsp
            // must not bounce the whole queue.
            SmtpError::PlaintextAuthRefused => row(
                Deferred,
                Ends,
                None,
                Some(
                    "use tls=starttls, or tls=implicit on the server's TLS port, or set [VMAIL] \
                     allow-plaintext-auth=yes on a trusted network"
                        .into(),
                ),
            ),
            SmtpError::AuthMechanismNotOffered { wanted, offered } => row(
                Deferred,
                Ends,
                None,
                Some(mechanism_not_offered(wanted, offered).into()),
            ),
            SmtpError::AuthMissingResponses { .. } => row(
                Deferred,
                Ends,
                None,
                Some(
                    "enter it again with `vfxadmin config -a -p -e VMAIL auth-rsp` \
                     (user:password)"
                        .into(),
                ),
            ),
            SmtpError::AuthRejected { reply, .. } => {
                row(Deferred, Ends, Some(reply), Some(auth_rejected(reply)))
            }
            SmtpError::AuthBadChallenge { reply, .. } => row(
                Deferred,
                Ends,
                Some(reply),
                Some("set auth-type=plain or auth-type=login".into()),
            ),
            SmtpError::Pop { command, .. } => row(Deferred, Ends, None, Some(pop(command))),
            // No token, or a token refused: a token endpoint that is down
            // comes back, a revoked client or a missing permission is fixed
            // while the jobs wait (max-lifetime still bounds them). Failing
            // at once would bounce the whole queue for one mistake.
            SmtpError::OAuthToken {
                error, rejected, ..
            } => row(Deferred, Ends, rejected.as_ref(), Some(no_token(error))),
            SmtpError::OAuthRejected { user, reply, .. } => row(
                Deferred,
                Ends,
                Some(reply),
                Some(oauth_rejected(user, reply)),
            ),
            // The server's verdict on this message: 5xx fails, 4xx waits.
            SmtpError::MailFrom { reply } => row(
                by_reply(reply),
                Continues,
                Some(reply),
                Some(sender_refused(reply)),
            ),
            SmtpError::Recipient { reply, .. } => row(
                by_reply(reply),
                Continues,
                Some(reply),
                Some(recipient_refused(reply)),
            ),
            SmtpError::RecipientsRefused { refused } => recipients_refused(refused),
            SmtpError::Data { reply } | SmtpError::DataEnd { reply } => {
                row(by_reply(reply), Continues, Some(reply), None)
            }
            SmtpError::SizeExceeded { .. } => row(Failed, Continues, None, None),
            // The same server will never take it; trying again cannot help.
            SmtpError::NeedsSmtpUtf8 { .. } => row(
                Failed,
                Continues,
                None,
                Some(
                    "give an ASCII address, or relay through a server that offers SMTPUTF8 \
                     (Postfix: smtputf8_enable = yes)"
                        .into(),
                ),
            ),
            // Each server's error is in the text, with its reply; the advice
            // is each server's own.
            SmtpError::AllServersFailed { failures } => {
                row(Deferred, Lost, None, Some(every_server(failures, server)))
            }
        };
        // 421: the server is closing the connection whatever the step.
        if facts.session == Continues && facts.reply.is_some_and(|r| r.code == 421) {
            facts.session = Ends;
        }
        facts
    }

    /// Whether the next server of `[VMAIL] mail-server` is tried after
    /// this error: when it is about this server (unreachable, silent, busy,
    /// TLS, what it offers, a 4xx to EHLO, AUTH or MAIL). Not for what all
    /// servers share (the login, the token, the configuration) nor for a
    /// server's verdict on the message (a 5xx to the envelope or the data).
    pub fn fails_over(&self) -> bool {
        match self {
            SmtpError::Connect { .. }
            | SmtpError::Timeout { .. }
            | SmtpError::ConnectionClosed { .. }
            | SmtpError::Io { .. }
            | SmtpError::Protocol { .. }
            | SmtpError::Greeting { .. }
            | SmtpError::StartTlsNotOffered { .. }
            | SmtpError::StartTlsRefused { .. }
            | SmtpError::Tls { .. }
            | SmtpError::PlaintextAuthRefused
            | SmtpError::AuthMechanismNotOffered { .. }
            | SmtpError::AuthBadChallenge { .. } => true,
            SmtpError::Helo { reply }
            | SmtpError::AuthRejected { reply, .. }
            | SmtpError::OAuthRejected { reply, .. }
            | SmtpError::MailFrom { reply } => reply.is_transient(),
            SmtpError::TlsConfig { .. }
            | SmtpError::AuthMissingResponses { .. }
            | SmtpError::OAuthToken { .. }
            | SmtpError::Pop { .. }
            | SmtpError::RecipientsRefused { .. }
            | SmtpError::Recipient { .. }
            | SmtpError::Data { .. }
            | SmtpError::DataEnd { .. }
            | SmtpError::SizeExceeded { .. }
            | SmtpError::NeedsSmtpUtf8 { .. }
            | SmtpError::Body { .. }
            | SmtpError::BodyRead { .. }
            | SmtpError::Rset { .. }
            | SmtpError::AllServersFailed { .. } => false,
        }
    }

    /// Deferred or Failed.
    pub fn class(&self) -> Class {
        self.facts().class
    }

    /// The server's reply that caused this error, when there is one.
    pub fn reply(&self) -> Option<&Reply> {
        self.facts().reply
    }

    /// What the administrator changes, naming the `[VMAIL]` key.
    pub fn advice(&self) -> Option<Advice> {
        self.facts().advice
    }

    /// Whether trying again later may succeed (the job is deferred).
    pub fn is_transient(&self) -> bool {
        self.class() == Class::Deferred
    }

    /// Whether this error ends the connection: after it no further message
    /// can go over the same session.
    pub fn ends_session(&self) -> bool {
        self.facts().session != SessionEffect::Continues
    }
}

/// Every recipient refused: waits when any refusal was temporary (with that
/// reply), fails otherwise. The advice is about the first refusal, the one
/// `vfxadmin check` shows.
fn recipients_refused(refused: &[RefusedRecipient]) -> ErrorFacts<'_> {
    let advice = refused.first().map(|r| recipient_refused(&r.reply));
    match refused.iter().find(|r| !r.reply.is_permanent()) {
        Some(transient) => row(
            Class::Deferred,
            SessionEffect::Continues,
            Some(&transient.reply),
            advice,
        ),
        None => row(
            Class::Failed,
            SessionEffect::Continues,
            refused.first().map(|r| &r.reply),
            advice,
        ),
    }
}

/// Each server's advice, once per distinct advice, naming the servers.
fn every_server(failures: &[ServerFailure], server: Server) -> Advice {
    let mut advice: Vec<(String, Vec<String>)> = Vec::new();
    for failure in failures {
        let Some(text) = failure.error.facts_about(server).advice else {
            continue;
        };
        let text = text.text().to_string();
        match advice.iter_mut().find(|(t, _)| *t == text) {
            Some((_, servers)) => servers.push(failure.server.to_string()),
            None => advice.push((text, vec![failure.server.to_string()])),
        }
    }
    let each: Vec<String> = advice
        .into_iter()
        .map(|(text, servers)| format!("{}: {text}", servers.join(", ")))
        .collect();
    each.join("; ").into()
}

fn connect(server: Server, source: &std::io::Error) -> Advice {
    let (host_key, port_key) = server.keys();
    if source.kind() == std::io::ErrorKind::ConnectionRefused {
        format!("check [VMAIL] {host_key} and {port_key}").into()
    } else {
        format!("check [VMAIL] {host_key} (the host name) and {port_key}, and the firewall").into()
    }
}

fn timeout(server: Server, step: Step) -> Advice {
    let (host_key, port_key) = server.keys();
    match step {
        Step::Connect => format!("check [VMAIL] {host_key} and {port_key}").into(),
        Step::Pop => "check [VMAIL] pop-server, pop-port and pop-tls".into(),
        _ => "if it is only slow, raise [VMAIL] timeout".into(),
    }
}

fn tls(server: Server) -> Advice {
    match server {
        Server::Smtp => "check [VMAIL] tls, mail-port and ca-file".into(),
        Server::Pop => "check [VMAIL] pop-tls and pop-port".into(),
    }
}

fn greeting(reply: &Reply) -> Advice {
    match reply.code {
        421 => {
            "the server does not accept connections now; try again later, and if it lasts, \
             ask the mail server's administrator"
        }
        554 => {
            "the server refuses connections from this host; ask the mail server's \
             administrator to allow this host's address"
        }
        _ => {
            "the server refused the connection in its greeting; ask the mail server's \
             administrator"
        }
    }
    .into()
}

fn starttls_not_offered(port: u16) -> Advice {
    if port == 465 {
        "port 465 expects tls=implicit".into()
    } else {
        "use tls=implicit on the server's TLS port (usually 465), or tls=none only on a trusted \
         network"
            .into()
    }
}

/// `auth-type` for a mechanism vmail speaks.
fn auth_type_for(mechanism: &str) -> Option<&'static str> {
    match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => Some("plain"),
        "LOGIN" => Some("login"),
        "CRAM-MD5" => Some("cram-md5"),
        "XOAUTH2" => Some("xoauth2"),
        "OAUTHBEARER" => Some("oauthbearer"),
        _ => None,
    }
}

fn is_oauth_auth_type(auth_type: &str) -> bool {
    matches!(auth_type, "xoauth2" | "oauthbearer")
}

fn offered_or_nothing(offered: &[String]) -> String {
    if offered.is_empty() {
        "nothing".to_string()
    } else {
        offered.join(" ")
    }
}

/// The mechanism asked for is not offered: which `auth-type` would work.
fn mechanism_not_offered(wanted: &str, offered: &[String]) -> String {
    let usable: Vec<&'static str> = offered.iter().filter_map(|m| auth_type_for(m)).collect();
    let wants_oauth = wanted.contains("XOAUTH2") || wanted.contains("OAUTHBEARER");
    if wants_oauth && !usable.iter().any(|t| is_oauth_auth_type(t)) {
        return format!(
            "the server offers no OAuth2 login (it offers AUTH {}): check [VMAIL] mail-server \
             and mail-port (Microsoft 365: smtp.office365.com 587; Google: smtp.gmail.com 587), \
             or remove the oauth-* keys to log in with auth-rsp",
            offered_or_nothing(offered)
        );
    }
    match (offered, usable.as_slice()) {
        ([only], [auth_type]) if is_oauth_auth_type(auth_type) => format!(
            "the server offers only {only}; set auth-type={auth_type} and the oauth-* keys \
             (docs/oauth.md)"
        ),
        ([only], [auth_type]) => {
            format!("the server offers only {only}; set auth-type={auth_type}")
        }
        (_, []) => format!(
            "the server offers AUTH {}, none of which vmail speaks (PLAIN, LOGIN, CRAM-MD5, \
             XOAUTH2, OAUTHBEARER); ask the mail server's administrator",
            if offered.is_empty() {
                "mechanisms".to_string()
            } else {
                offered.join(" ")
            }
        ),
        (_, usable) => format!(
            "the server does not offer AUTH {wanted}; it offers {}; set auth-type=auto or \
             auth-type={}",
            offered.join(" "),
            usable.join(" or auth-type=")
        ),
    }
}

/// Whether `reply` carries `enhanced` (`5.7.3`), parsed or in its text.
pub fn has_enhanced(reply: &Reply, enhanced: &str) -> bool {
    match reply.enhanced {
        Some(code) => code.to_string() == enhanced,
        None => reply
            .text
            .split_whitespace()
            .next()
            .is_some_and(|word| word == enhanced),
    }
}

/// Microsoft's answers to a password login in a tenant that has switched
/// Basic authentication off: `535 5.7.139` at AUTH, `550 5.7.30` at AUTH or
/// MAIL FROM.
pub fn basic_auth_disabled(reply: &Reply) -> bool {
    (reply.code == 535 && has_enhanced(reply, "5.7.139"))
        || (reply.code == 550 && has_enhanced(reply, "5.7.30"))
}

/// Microsoft's `535 5.7.3` after a token it could validate: the app or the
/// mailbox is not allowed SMTP.
pub fn oauth_not_permitted(reply: &Reply) -> bool {
    reply.code == 535 && has_enhanced(reply, "5.7.3")
}

const BASIC_AUTH_OFF: &str = "log in with an OAuth2 token instead: set [VMAIL] auth-type = \
    xoauth2, oauth-provider = microsoft, oauth-tenant = <the directory id or domain>, \
    oauth-client-id = <the app's id>, oauth-client-secret (sealed with `vfxadmin config -a -p -e \
    VMAIL oauth-client-secret`), oauth-user = <the mailbox to send as>; docs/oauth.md shows the \
    app registration step by step";

fn auth_rejected(reply: &Reply) -> Advice {
    if basic_auth_disabled(reply) {
        return BASIC_AUTH_OFF.into();
    }
    match reply.code {
        535 => "enter it again with `vfxadmin config -a -p -e VMAIL auth-rsp`",
        534 => "set auth-type=auto",
        400..=499 => "try again later",
        _ => "check [VMAIL] auth-type and auth-rsp",
    }
    .into()
}

/// The token source's own advice, or the key to look at for its kind of
/// error.
fn no_token(error: &TokenError) -> Advice {
    if let Some(advice) = &error.advice {
        return advice.clone().into();
    }
    match error.kind {
        TokenErrorKind::Unreachable => {
            "check that this host reaches [VMAIL] oauth-token-url (DNS, firewall, proxy) and \
             ca-file"
        }
        TokenErrorKind::ServerError => "the token endpoint is failing; try again later",
        TokenErrorKind::InvalidClient => {
            "check [VMAIL] oauth-client-id and oauth-client-secret (an expired secret needs a \
             new one from the app registration)"
        }
        TokenErrorKind::InvalidGrant => {
            "run `vfxadmin oauth login` again (oauth-grant = refresh-token), or check \
             oauth-key-file and oauth-user (service-account)"
        }
        TokenErrorKind::UnauthorizedClient => {
            "the app may not use this grant: allow it in the app registration or change [VMAIL] \
             oauth-grant"
        }
        TokenErrorKind::InvalidScope => "check [VMAIL] oauth-scope",
        TokenErrorKind::NotConfigured => {
            "set the [VMAIL] oauth-* keys, and for oauth-grant = refresh-token run `vfxadmin \
             oauth login`"
        }
        TokenErrorKind::Other => "see docs/oauth.md",
    }
    .into()
}

fn oauth_rejected(user: &str, reply: &Reply) -> Advice {
    if reply.is_transient() {
        return "try again later".into();
    }
    if oauth_not_permitted(reply) {
        return format!(
            "the app lacks the SMTP send permission, or SMTP AUTH is disabled on the mailbox. \
             Check in Entra ID that the app has Office 365 Exchange Online SMTP.SendAsApp with \
             admin consent; in Exchange Online PowerShell, `Set-CASMailbox -Identity {user} \
             -SmtpClientAuthenticationDisabled $false`, the app's Exchange service principal \
             (`New-ServicePrincipal -AppId <oauth-client-id> -ObjectId <the enterprise app's \
             object id>`) and its right to the mailbox (`Add-MailboxPermission -Identity {user} \
             -User <the service principal's id> -AccessRights FullAccess`); see docs/oauth.md"
        )
        .into();
    }
    "check that [VMAIL] oauth-user is the mailbox the app may send as, that oauth-scope is the \
     one the server asks for, and the app's permissions (docs/oauth.md)"
        .into()
}

fn pop(command: &str) -> Advice {
    match command {
        "greeting" => "check [VMAIL] pop-server, pop-port and pop-tls",
        _ => {
            "check the POP3 user and password in [VMAIL] pop-rsp; enter them again with \
             `vfxadmin config -a -p -e VMAIL pop-rsp`"
        }
    }
    .into()
}

fn sender_refused(reply: &Reply) -> Advice {
    if basic_auth_disabled(reply) {
        BASIC_AUTH_OFF.into()
    } else if reply.is_transient() {
        "try again later".into()
    } else {
        "set [VMAIL] from to an address this login may send as".into()
    }
}

/// Whether a refused recipient is a refusal to relay for this host.
pub fn relay_denied(reply: &Reply) -> bool {
    reply.text.to_ascii_lowercase().contains("relay")
        || reply.enhanced.is_some_and(|e| e.to_string() == "5.7.1")
}

fn recipient_refused(reply: &Reply) -> Advice {
    if relay_denied(reply) {
        "the server does not relay for this host as it logs in now; set auth-type and auth-rsp, \
         or ask the mail server's administrator"
            .into()
    } else if reply.is_transient() {
        "try again later".into()
    } else {
        "check the address".into()
    }
}
