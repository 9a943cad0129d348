//! `vfxadmin check` with several servers in `[VMAIL] mail-server`: each one
//! is checked as if it were the only one (its own session, probes,
//! certificate and verdicts, and the test message when asked for), then one
//! line per server says whether the daemon could send through it. Sending
//! works when one server works; the others would be passed over, which is
//! worth a look but not a failure.

use super::{Level, Report, Verdict};
use std::fmt::Write as _;
use vmail_config::Config;
use vmail_core::{MailServer, SmtpSettings};

/// Every server's own report, in the order the daemon tries them.
pub struct Each {
    pub servers: Vec<(MailServer, Report)>,
}

impl Each {
    /// Sending would work: one server at least takes the mail.
    pub fn works(&self) -> bool {
        self.servers.iter().any(|(_, report)| report.works())
    }

    /// One verdict per server, in order.
    pub fn summary(&self) -> Vec<Verdict> {
        let working: Vec<&MailServer> = self
            .servers
            .iter()
            .filter(|(_, r)| r.works())
            .map(|(s, _)| s)
            .collect();
        self.servers
            .iter()
            .enumerate()
            .map(|(n, (server, report))| {
                let n = n + 1;
                if report.works() {
                    let first = working.first().is_some_and(|w| *w == server);
                    let role = if first {
                        "the daemon sends through it"
                    } else {
                        "the daemon sends through it when the ones before it fail"
                    };
                    return Verdict::ok(format!("server {n}, {server}: works; {role}"));
                }
                let why = report
                    .verdicts
                    .iter()
                    .find(|v| v.level == Level::Fail)
                    .map(|v| v.text.as_str())
                    .unwrap_or("a step failed");
                let text = match working.first() {
                    Some(other) => format!(
                        "server {n}, {server}: does not work, the daemon passes it over for \
                         {other}: {why}"
                    ),
                    None => format!("server {n}, {server}: does not work: {why}"),
                };
                let level = if working.is_empty() {
                    Level::Fail
                } else {
                    Level::Warn
                };
                Verdict { level, text }
            })
            .collect()
    }
}

/// The report as an administrator reads it: each server's, under its own
/// heading, then the per-server summary and the result.
pub fn text(config: &Config, settings: &SmtpSettings, each: &Each) -> String {
    let mut out = String::new();
    let count = each.servers.len();
    for (n, (server, report)) in each.servers.iter().enumerate() {
        let _ = writeln!(out, "=== server {} of {count}: {server} ===", n + 1);
        out.push_str(&super::text(config, &settings.for_server(server), report));
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Servers (mail-server, in the order the daemon tries them):"
    );
    for verdict in each.summary() {
        let _ = writeln!(out, "{} {}", verdict.level.tag(), verdict.text);
    }
    let result = if each.works() {
        "\nResult: sending would work."
    } else {
        "\nResult: sending would NOT work through any server; fix what the [FAIL] lines name."
    };
    let _ = writeln!(out, "{result}");
    out
}

pub fn json(config: &Config, settings: &SmtpSettings, each: &Each) -> serde_json::Value {
    let servers: Vec<serde_json::Value> = each
        .servers
        .iter()
        .map(|(server, report)| super::json(config, &settings.for_server(server), report))
        .collect();
    let summary: Vec<serde_json::Value> = each
        .summary()
        .iter()
        .map(|v| serde_json::json!({ "level": v.level.word(), "text": v.text }))
        .collect();
    serde_json::json!({
        "config": config.path.display().to_string(),
        "servers": servers,
        "summary": summary,
        "works": each.works(),
    })
}
