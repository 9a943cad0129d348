//! `vfxadmin check [--send-test ADDRESS] [--json]`: what administrators did
//! by hand with telnet and `openssl s_client`, against the server `[VMAIL]`
//! names: connect, greeting, EHLO, STARTTLS or implicit TLS with the
//! certificate, AUTH with the configured login, and optionally one real test
//! message. It prints the redacted transcript, then one plain-language
//! verdict per step with the server's numeric reply and the key to change.
//!
//! When the first attempt fails in a way that has several explanations (no
//! greeting: a slow server, or one that speaks TLS from the first byte?), a
//! second connection tells them apart. Such a probe never logs in, so the
//! password never goes over a connection the settings did not ask for.
//!
//! Exit status 0 only when sending would work: the login was accepted (or
//! the server needs none) and the test message, when asked for, was
//! accepted; 1 otherwise.

mod access;
mod diagnose;
mod each;
mod opened;
mod probe;
mod token;

use crate::setup;
use anyhow::Context;
use clap::Args;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use vmail_config::Config;
use vmail_core::{MailServer, SmtpSettings, TlsMode, TokenSource};
use vmail_smtp::{CertificateCheck, CertificateProblem, PeerCertificate, Submitter, Transcript};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  vfxadmin check
  vfxadmin check --send-test admin@example.com

Prints the SMTP transcript (passwords masked), the server's certificate and
one verdict per step: [ ok ], [warn] or [FAIL], with the server's reply and
the vsisrv.ini key to change. Exits 0 only when sending would work.")]
pub struct CheckArgs {
    /// Also send a small real test message to ADDRESS
    #[arg(long = "send-test", value_name = "ADDRESS")]
    pub send_test: Option<String>,

    /// Print the result as one JSON object instead of text
    #[arg(long = "json")]
    pub json: bool,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// Works, but deserves a look (no encryption, no login).
    Warn,
    /// Sending would not work.
    Fail,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Ok => "[ ok ]",
            Level::Warn => "[warn]",
            Level::Fail => "[FAIL]",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One line an administrator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub level: Level,
    pub text: String,
}

impl Verdict {
    pub fn ok(text: impl Into<String>) -> Verdict {
        Verdict {
            level: Level::Ok,
            text: text.into(),
        }
    }

    pub fn warn(text: impl Into<String>) -> Verdict {
        Verdict {
            level: Level::Warn,
            text: text.into(),
        }
    }

    pub fn fail(text: impl Into<String>) -> Verdict {
        Verdict {
            level: Level::Fail,
            text: text.into(),
        }
    }
}

/// A second connection made to tell two explanations apart.
#[derive(Debug)]
pub struct ProbeRecord {
    /// What was tried, e.g. `tls=implicit`.
    pub label: String,
    pub transcript: Transcript,
}

/// Everything `check` found.
#[derive(Debug, Default)]
pub struct Report {
    pub transcript: Transcript,
    pub probes: Vec<ProbeRecord>,
    pub certificate: Option<PeerCertificate>,
    pub verdicts: Vec<Verdict>,
    /// The session stopped at AUTH because no OAuth2 token could be had
    /// (its last verdict says so).
    pub ended_without_token: bool,
}

impl Report {
    pub fn push(&mut self, verdict: Verdict) {
        self.verdicts.push(verdict);
    }

    /// Sending would work: no step failed.
    pub fn works(&self) -> bool {
        self.verdicts.iter().all(|v| v.level != Level::Fail)
    }
}

pub fn run(path: &Path, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = setup::load_config(Some(path))?;
    let Some(settings) = config.smtp() else {
        print_capture_mode(&config, args.json);
        return Ok(ExitCode::SUCCESS);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let send_test = args.send_test.as_deref();
    let reports = runtime.block_on(check_each_server(&config, settings, send_test));
    Ok(if print_reports(&config, settings, reports, args.json) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every server of mail-server in turn, each as if it were the only one.
/// With oauth-* keys the token comes first, once, with its own verdict;
/// each session then logs in with that token.
async fn check_each_server(
    config: &Config,
    settings: &SmtpSettings,
    send_test: Option<&str>,
) -> Vec<(MailServer, Report)> {
    let (token_verdict, tokens) = match &settings.oauth {
        Some(oauth) => {
            let (verdict, tokens) = token::step(config, oauth, settings.timeout).await;
            (Some(verdict), tokens)
        }
        None => (None, None),
    };
    let mut reports = Vec::new();
    for server in settings.servers() {
        let one = settings.for_server(&server);
        let mut report = check_with(&one, &config.from, send_test, tokens.clone()).await;
        if let Some(verdict) = token_verdict.clone() {
            if verdict.level == Level::Fail {
                token::not_tried_without_token(&mut report);
            }
            report.verdicts.insert(0, verdict);
        }
        // Root reads every file; the daemon's user may not.
        let unreadable = access::verdicts(config, settings);
        report.verdicts.splice(0..0, unreadable);
        reports.push((server, report));
    }
    reports
}

/// Several servers get a heading each and a per-server summary (sending
/// works when one of them does); one server's report stands alone, as a
/// summary would only repeat it. Whether sending would work.
fn print_reports(
    config: &Config,
    settings: &SmtpSettings,
    mut reports: Vec<(MailServer, Report)>,
    as_json: bool,
) -> bool {
    if reports.len() > 1 {
        let each = each::Each { servers: reports };
        print_as(
            as_json,
            || each::json(config, settings, &each),
            || each::text(config, settings, &each),
        );
        return each.works();
    }
    let Some((_, report)) = reports.pop() else {
        return false;
    };
    print_as(
        as_json,
        || json(config, settings, &report),
        || text(config, settings, &report),
    );
    report.works()
}

/// JSON is one object on one line, for scripts; the text ends its own
/// lines.
fn print_as(
    as_json: bool,
    value: impl FnOnce() -> serde_json::Value,
    page: impl FnOnce() -> String,
) {
    if as_json {
        println!("{}", value());
    } else {
        print!("{}", page());
    }
}

/// Runs the whole check: one session as the daemon would open it, the test
/// message when asked, and the probes a failure calls for.
pub async fn check(settings: &SmtpSettings, from: &str, send_test: Option<&str>) -> Report {
    check_with(settings, from, send_test, None).await
}

/// [`check`] with the OAuth2 token source the session logs in with.
pub async fn check_with(
    settings: &SmtpSettings,
    from: &str,
    send_test: Option<&str>,
    tokens: Option<Arc<dyn TokenSource>>,
) -> Report {
    let mut report = Report::default();
    if speaks_tls_first(settings, &mut report).await {
        return report;
    }
    let submitter = match tokens {
        Some(tokens) => Submitter::new(settings.clone()).with_tokens(tokens),
        None => Submitter::new(settings.clone()),
    };
    match submitter.connect().await {
        Ok(session) => opened::examine(&mut report, settings, session, from, send_test).await,
        Err(failure) => {
            let no_token = matches!(
                failure.error,
                vmail_smtp::SmtpError::OAuthToken { rejected: None, .. }
            );
            diagnose::failed(&mut report, settings, failure, from).await;
            report.ended_without_token = no_token;
        }
    }
    report
}

/// `tls = starttls` (or `none`) on a port that speaks TLS first: the server
/// waits for the client's TLS hello and the greeting never comes, which
/// the session would wait the whole `timeout` for (60 s by default). When
/// nothing comes within [`probe::FIRST_BYTE`] and a TLS probe is greeted,
/// that is the verdict. A port that is merely slow goes on to the session.
async fn speaks_tls_first(settings: &SmtpSettings, report: &mut Report) -> bool {
    if settings.tls == TlsMode::Implicit
        || settings.timeout <= probe::FIRST_BYTE
        || !probe::silent_at_first(settings).await
    {
        return false;
    }
    let (seen, record) = probe::probe(settings, probe::ProbeKind::Implicit).await;
    let Some(greeting) = seen.greeting else {
        return false;
    };
    report.probes.extend(record);
    report.certificate = seen.tls.and_then(|tls| tls.peer);
    report.push(Verdict::fail(format!(
        "no greeting in plain text from {}:{} within {} s: this port speaks TLS first: set \
         tls = implicit (over TLS from the first byte it greeted \"{greeting}\")",
        settings.host,
        settings.port,
        seconds(probe::FIRST_BYTE)
    )));
    true
}

/// Capture mode writes mail into a folder: there is no server to check, and
/// nothing is wrong with that, so the exit status is 0.
fn print_capture_mode(config: &Config, json: bool) {
    let dir = match &config.delivery {
        vmail_config::Delivery::Capture { dir } => dir.display().to_string(),
        vmail_config::Delivery::Smtp(_) => String::new(),
    };
    let line = format!(
        "capture mode, nothing to check: [VMAIL] mail-server = file:{dir} in {} writes each \
         message into that folder instead of sending it; set mail-server to the mail server's \
         host name to relay by SMTP",
        config.path.display()
    );
    if json {
        let value = serde_json::json!({ "capture": true, "message": line, "works": true });
        println!("{value}");
    } else {
        println!("{line}");
    }
}

fn heading(config: &Config, settings: &SmtpSettings) -> String {
    format!(
        "vfxadmin check: {}:{} with tls={}, auth-type={} ({})",
        settings.host,
        settings.port,
        settings.tls,
        settings.auth_type,
        config.path.display()
    )
}

/// The report as an administrator reads it: transcript, probes,
/// certificate, verdicts, result.
pub fn text(config: &Config, settings: &SmtpSettings, report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", heading(config, settings));
    let _ = writeln!(out, "Transcript (secrets masked):");
    indented(&mut out, &report.transcript);
    for probe in &report.probes {
        let _ = writeln!(
            out,
            "\nProbe with {} (no login; a certificate is fetched without verifying it, to show it):",
            probe.label
        );
        indented(&mut out, &probe.transcript);
    }
    if let Some(cert) = &report.certificate {
        let _ = writeln!(out, "\nCertificate:");
        let _ = writeln!(out, "  subject:      {}", cert.subject);
        let _ = writeln!(out, "  issuer:       {}", cert.issuer);
        let _ = writeln!(out, "  valid until:  {}", cert.not_after);
        let _ = writeln!(out, "  fingerprint:  {}", cert.fingerprint);
        let _ = writeln!(out, "  verification: {}", verification(cert));
    }
    let _ = writeln!(out, "\nVerdict:");
    for verdict in &report.verdicts {
        let _ = writeln!(out, "{} {}", verdict.level.tag(), verdict.text);
    }
    let result = if report.works() {
        "\nResult: sending would work."
    } else {
        "\nResult: sending would NOT work; fix what the [FAIL] lines name."
    };
    let _ = writeln!(out, "{result}");
    out
}

fn indented(out: &mut String, transcript: &Transcript) {
    if transcript.lines().is_empty() {
        let _ = writeln!(out, "  (nothing was said)");
    }
    for line in transcript.lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// `verified`, or why not, and what decided: the CA check, a pin,
/// `tls-verify=no`, or nothing (a look-only connection fetched it).
pub fn verification(cert: &PeerCertificate) -> String {
    let chain = match &cert.verification {
        Ok(()) => "verified".to_string(),
        Err(_) => format!("NOT verified ({})", why_not_verified(cert)),
    };
    match cert.check {
        CertificateCheck::Chain => chain,
        CertificateCheck::Pin { matched: true } => {
            format!("pinned by tls-fingerprint (CA check: {chain})")
        }
        CertificateCheck::Pin { matched: false } => {
            format!("NOT pinned: not in tls-fingerprint (CA check: {chain})")
        }
        CertificateCheck::Off => format!("{chain}; accepted because tls-verify=no"),
        CertificateCheck::LookOnly => {
            format!("{chain}; fetched without verifying it, to show it")
        }
    }
}

/// Why a certificate did not verify: "self-signed" or the names it is for
/// (rustls calls a self-signed certificate `UnknownIssuer` or
/// `BadSignature`, which names no fix), else rustls's reason.
pub fn why_not_verified(cert: &PeerCertificate) -> String {
    match (cert.problem(), &cert.verification) {
        (Some(problem @ CertificateProblem::SelfSigned), _)
        | (Some(problem @ CertificateProblem::WrongName { .. }), _) => problem.to_string(),
        (_, Err(why)) => why.to_string(),
        (_, Ok(())) => String::new(),
    }
}

fn json(config: &Config, settings: &SmtpSettings, report: &Report) -> serde_json::Value {
    let lines =
        |t: &Transcript| -> Vec<String> { t.lines().iter().map(|l| l.to_string()).collect() };
    let certificate = report.certificate.as_ref().map(|cert| {
        serde_json::json!({
            "subject": cert.subject,
            "issuer": cert.issuer,
            "not_after": cert.not_after,
            "fingerprint": cert.fingerprint.to_string(),
            "verified": cert.verification.is_ok(),
            "verification": verification(cert),
        })
    });
    serde_json::json!({
        "config": config.path.display().to_string(),
        "server": format!("{}:{}", settings.host, settings.port),
        "tls": settings.tls.to_string(),
        "auth_type": settings.auth_type.to_string(),
        "transcript": lines(&report.transcript),
        "probes": report.probes.iter().map(|p| serde_json::json!({
            "label": p.label,
            "transcript": lines(&p.transcript),
        })).collect::<Vec<_>>(),
        "certificate": certificate,
        "verdicts": report.verdicts.iter().map(|v| serde_json::json!({
            "level": v.level.word(),
            "text": v.text,
        })).collect::<Vec<_>>(),
        "works": report.works(),
    })
}

/// `535 5.7.8`: the numeric reply and its enhanced code, as verdicts quote
/// them.
pub fn code(reply: &vmail_core::Reply) -> String {
    match reply.enhanced {
        Some(enhanced) => format!("{} {enhanced}", reply.code),
        None => reply.code.to_string(),
    }
}

/// The reply's text on one line, for the parentheses of a verdict.
pub fn said(reply: &vmail_core::Reply) -> String {
    reply.text.replace('\n', " / ")
}

/// Seconds as an administrator writes them: `2`, `0.5`.
pub fn seconds(duration: std::time::Duration) -> String {
    format!("{}", duration.as_secs_f64())
}

/// Whether the POP-before-SMTP login finished (the engine notes it before
/// opening SMTP).
pub fn pop_done(transcript: &Transcript) -> bool {
    transcript
        .notes()
        .any(|note| note.starts_with("POP-before-SMTP done"))
}

/// The first server line of a transcript that is a 220 greeting.
pub fn greeting_line(transcript: &Transcript) -> Option<String> {
    transcript
        .lines()
        .iter()
        .filter(|line| line.direction == vmail_smtp::Direction::Server)
        .map(|line| line.text.clone())
        .find(|text| text.starts_with("220"))
}
