//! `[VMAIL]`: where mail goes, and how vmail connects and logs in there.

use super::oauth;
use super::{Ctx, KeyRing, Section, Set, hostname, positive_duration};
use crate::Delivery;
use crate::invalid::Invalid;
use crate::secrets;
use crate::values;
use std::path::PathBuf;
use std::time::Duration;
use vmail_core::{
    AuthType, Dsn, DsnNotify, DsnReturn, MailServer, OAuthSettings, PopSettings, Secret,
    SmtpSettings, TlsMode,
};

const V: &str = "VMAIL";

pub(super) fn delivery(cx: &mut Ctx<'_>, vmail: &Section, keys: &mut KeyRing) -> Delivery {
    // Every key is checked, even in capture mode, so that all errors show.
    let settings = settings(cx, vmail, keys);
    let Some(server) = vmail.get("mail-server") else {
        cx.error(
            vmail.header,
            V,
            "mail-server",
            "is not set (the mail server's host name, or file:DIR to capture mail into DIR)",
        );
        return Delivery::Capture {
            dir: cx.base.clone(),
        };
    };
    if let Some(dir) = server.value.strip_prefix("file:") {
        let dir = dir.trim();
        if dir.is_empty() {
            let msg = "\"file:\" names no directory (file:DIR, for example file:/var/spool/vmail/capture)";
            cx.error(Some(server.line), V, "mail-server", msg);
        }
        return Delivery::Capture {
            dir: cx.path_value(dir),
        };
    }
    let mut servers = mail_servers(cx, &server.value, server.line, settings.port).into_iter();
    let first = servers
        .next()
        .unwrap_or_else(|| MailServer::new(String::new(), settings.port));
    Delivery::Smtp(SmtpSettings {
        host: first.host,
        port: first.port,
        fallbacks: servers.collect(),
        ..settings
    })
}

/// `mail-server` as a comma-separated list tried in order (one name is the
/// list of one): every bad entry is reported, the good ones kept.
fn mail_servers(cx: &mut Ctx<'_>, value: &str, line: usize, port: u16) -> Vec<MailServer> {
    let mut servers: Vec<MailServer> = Vec::new();
    for item in value.split(',') {
        let parsed = if item.trim().is_empty() {
            Err(Invalid::EmptyServer {
                list: value.to_string(),
            })
        } else {
            values::mail_server(item, port)
        };
        match parsed {
            Ok(server) if servers.contains(&server) => {
                let msg = format!("lists {server} twice (it is tried once)");
                cx.warn(line, V, "mail-server", msg);
            }
            Ok(server) => servers.push(server),
            Err(invalid) => cx.error(Some(line), V, "mail-server", invalid.to_string()),
        }
    }
    servers
}

fn settings(cx: &mut Ctx<'_>, vmail: &Section, keys: &mut KeyRing) -> SmtpSettings {
    let tls = cx.get(vmail, "tls", tls_mode);
    let tls_mode = tls.as_ref().map_or(TlsMode::Opportunistic, |s| s.value);
    let port = port(cx, vmail, tls_mode);
    let tls_verify = cx.get(vmail, "tls-verify", values::boolean);
    let client_tls = super::tls::client_tls(cx, vmail, tls_mode, tls_verify.as_ref());
    if let Some(Set { value: false, line }) = tls_verify {
        let msg = "is off: the server's certificate is not checked, so anyone on the way can read the mail and the password (tls-verify = yes)";
        cx.warn(line, V, "tls-verify", msg);
    }
    let ca_file = ca_file(cx, vmail);
    let helo_name = cx.get_or(vmail, "helo-name", hostname(), helo);
    let allow_plaintext_auth = cx.get_or(vmail, "allow-plaintext-auth", false, values::boolean);
    let delim = vmail.get("auth-delim").map_or(":", |e| e.value.as_str());
    let (auth_type, auth_responses, uses_oauth) = auth(cx, vmail, keys, delim);
    let oauth = if uses_oauth {
        oauth_login(cx, vmail, keys, ca_file.clone())
    } else {
        None
    };
    if auth_type != AuthType::None && tls_mode == TlsMode::None && !allow_plaintext_auth {
        let msg = "is none, so the login would cross the network unencrypted, and allow-plaintext-auth is no (tls = starttls or implicit, or allow-plaintext-auth = yes)";
        cx.error(tls.map(|s| s.line), V, "tls", msg);
    }
    SmtpSettings {
        host: String::new(),
        port,
        fallbacks: Vec::new(),
        tls: tls_mode,
        tls_verify: tls_verify.is_none_or(|s| s.value),
        ca_file,
        tls_fingerprints: client_tls.fingerprints,
        client_certificate: client_tls.client_certificate,
        tls_min_version: client_tls.min_version,
        helo_name,
        auth_type,
        auth_responses,
        allow_plaintext_auth,
        pop: pop(cx, vmail, keys, delim),
        oauth,
        timeout: cx.get_or(vmail, "timeout", Duration::from_secs(60), positive_duration),
        dsn: dsn(cx, vmail),
    }
}

/// Unset, the port follows `tls`: implicit TLS is served on a port of its
/// own (465), not on 25.
fn port(cx: &mut Ctx<'_>, vmail: &Section, tls: TlsMode) -> u16 {
    match cx.get(vmail, "mail-port", values::port) {
        Some(port) => {
            port_warnings(cx, &port, tls);
            port.value
        }
        None if tls == TlsMode::Implicit => 465,
        None => 25,
    }
}

/// `ca-file`, checked now: a missing file found at the first delivery
/// would defer every job instead of stopping the start.
fn ca_file(cx: &mut Ctx<'_>, vmail: &Section) -> Option<PathBuf> {
    let set = cx.get(vmail, "ca-file", |v| Ok(v.to_string()))?;
    let path = cx.path_value(&set.value);
    let why = match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => return Some(path),
        Ok(_) => format!("{} is not a file", path.display()),
        Err(e) => format!("cannot read {}: {e}", path.display()),
    };
    let msg = format!("{why} (a PEM file of CA certificates)");
    cx.error(Some(set.line), V, "ca-file", msg);
    None
}

/// The `oauth-*` keys, read only when the login uses OAuth. Their problems
/// point at the line that asked for OAuth: `auth-type`, else the first
/// `oauth-*` key.
fn oauth_login(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    keys: &mut KeyRing,
    ca_file: Option<PathBuf>,
) -> Option<OAuthSettings> {
    let line = vmail
        .get("auth-type")
        .map(|e| e.line)
        .or_else(|| oauth::first_line(vmail));
    oauth::settings(cx, vmail, keys, line, ca_file)
}

/// `dsn-notify` and `dsn-return`: the DSN request of jobs that make none.
fn dsn(cx: &mut Ctx<'_>, vmail: &Section) -> Dsn {
    let notify = cx.get(vmail, "dsn-notify", |v| Ok(DsnNotify::parse(v)?));
    let ret = cx.get(vmail, "dsn-return", |v| Ok(DsnReturn::parse(v)?));
    Dsn {
        notify: notify.map(|s| s.value),
        ret: ret.map(|s| s.value),
        envid: None,
    }
}

fn port_warnings(cx: &mut Ctx<'_>, port: &Set<u16>, tls: TlsMode) {
    let msg = match (port.value, tls) {
        (25, TlsMode::Implicit) => {
            "25 is the plain SMTP port, but tls = implicit starts TLS before the greeting (465 for implicit TLS, or tls = starttls)"
        }
        (465, TlsMode::None) => {
            "465 is the implicit TLS port, but tls = none (tls = implicit for port 465)"
        }
        _ => return,
    };
    cx.warn(port.line, V, "mail-port", msg);
}

fn tls_mode(value: &str) -> Result<TlsMode, Invalid> {
    TlsMode::parse(value).ok_or_else(|| Invalid::TlsMode {
        value: value.to_string(),
    })
}

fn auth_type(value: &str) -> Result<AuthType, Invalid> {
    AuthType::parse(value).ok_or_else(|| Invalid::AuthType {
        value: value.to_string(),
    })
}

fn helo(value: &str) -> Result<String, Invalid> {
    if value.contains(|c: char| c.is_whitespace() || c.is_control()) {
        Err(Invalid::HeloName {
            value: value.to_string(),
        })
    } else {
        Ok(value.to_string())
    }
}

/// What `auth-type`, `auth-rsp` and the `oauth-*` keys ask for together:
/// the mechanism, the password responses, and whether the login uses an
/// OAuth token. With the oauth keys set, `auto` (or no auth-type) means
/// OAuth only: a password is never tried then.
fn auth(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    keys: &mut KeyRing,
    delim: &str,
) -> (AuthType, Vec<Secret>, bool) {
    let kind = cx.get(vmail, "auth-type", auth_type);
    let oauth_line = oauth::first_line(vmail);
    let rsp_line = vmail.get("auth-rsp").map(|e| e.line);
    let wants_oauth = match kind.as_ref().map(|s| s.value) {
        Some(AuthType::XOAuth2 | AuthType::OAuthBearer) => true,
        None | Some(AuthType::Auto) => oauth_line.is_some(),
        Some(AuthType::None | AuthType::Plain | AuthType::Login | AuthType::CramMd5) => {
            if let (Some(line), Some(set)) = (oauth_line, kind.as_ref()) {
                let key = oauth::OAUTH_KEYS
                    .iter()
                    .copied()
                    .find(|k| vmail.get(k).is_some_and(|e| e.line == line))
                    .unwrap_or("oauth-provider");
                let msg = format!(
                    "is ignored because auth-type = {} (auto, xoauth2 or oauthbearer log in with OAuth)",
                    set.value
                );
                cx.warn(line, V, key, msg);
            }
            false
        }
    };
    if wants_oauth {
        let kind = kind.map_or(AuthType::Auto, |s| s.value);
        if let Some(line) = rsp_line {
            let msg = format!(
                "is ignored because auth-type = {kind} with the oauth-* keys logs in with an OAuth token, never a password"
            );
            cx.warn(line, V, "auth-rsp", msg);
        }
        return (kind, Vec::new(), true);
    }
    let responses = responses(cx, vmail, "auth-rsp", keys, delim);
    let (kind, responses) = password_auth(cx, kind, rsp_line, responses);
    (kind, responses, false)
}

fn password_auth(
    cx: &mut Ctx<'_>,
    kind: Option<Set<AuthType>>,
    rsp_line: Option<usize>,
    responses: Vec<Secret>,
) -> (AuthType, Vec<Secret>) {
    match (kind, rsp_line) {
        (None, None) => (AuthType::None, Vec::new()),
        (None, Some(_)) => (AuthType::Auto, responses),
        (
            Some(Set {
                value: AuthType::Auto,
                ..
            }),
            None,
        ) => (AuthType::None, Vec::new()),
        (
            Some(Set {
                value: AuthType::None,
                ..
            }),
            Some(line),
        ) => {
            cx.warn(line, V, "auth-rsp", "is ignored because auth-type = none");
            (AuthType::None, Vec::new())
        }
        (
            Some(Set {
                value: AuthType::None,
                ..
            }),
            None,
        ) => (AuthType::None, Vec::new()),
        (Some(Set { value, line }), None) => {
            let msg = format!(
                "\"{value}\" needs auth-rsp, the user and the password (`vfxadmin config -a -p -e VMAIL auth-rsp`, or auth-type = none)"
            );
            cx.error(Some(line), V, "auth-type", msg);
            (value, Vec::new())
        }
        (Some(Set { value, .. }), Some(_)) => (value, responses),
    }
}

fn pop(cx: &mut Ctx<'_>, vmail: &Section, keys: &mut KeyRing, delim: &str) -> Option<PopSettings> {
    let Some(server) = vmail.get("pop-server") else {
        for key in ["pop-port", "pop-tls", "pop-rsp", "pop-delay"] {
            if let Some(entry) = vmail.get(key) {
                cx.warn(
                    entry.line,
                    V,
                    key,
                    "is ignored because pop-server is not set",
                );
            }
        }
        return None;
    };
    let host = cx.get_or(vmail, "pop-server", String::new(), values::host);
    let tls = cx.get_or(vmail, "pop-tls", false, values::boolean);
    let port = cx.get_or(vmail, "pop-port", if tls { 995 } else { 110 }, values::port);
    let delay = cx.get_or(
        vmail,
        "pop-delay",
        Duration::from_millis(300),
        values::millis,
    );
    if vmail.get("pop-rsp").is_none() {
        let msg =
            "needs pop-rsp, the POP3 user and password (`vfxadmin config -a -p -e VMAIL pop-rsp`)";
        cx.error(Some(server.line), V, "pop-server", msg);
    }
    let responses = responses(cx, vmail, "pop-rsp", keys, delim);
    Some(PopSettings {
        host,
        port,
        tls,
        responses,
        delay,
    })
}

/// `auth-rsp` or `pop-rsp`: opened when sealed, split on the delimiter into
/// at least a user and a secret. Never echoes the value.
fn responses(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    key: &str,
    keys: &mut KeyRing,
    delim: &str,
) -> Vec<Secret> {
    let Some(plain) = open_secret(cx, vmail, key, keys) else {
        return Vec::new();
    };
    let line = vmail.get(key).map(|e| e.line);
    let parts: Vec<Secret> = plain.expose().split(delim).map(Secret::from).collect();
    if parts.len() < 2 || parts[0].is_empty() || parts[1].is_empty() {
        let msg = format!(
            "does not split into a user and a secret on \"{delim}\" (user{delim}secret; if the password contains \"{delim}\", set auth-delim to a character it does not contain)"
        );
        cx.error(line, V, key, msg);
        return Vec::new();
    }
    parts
}

/// A secret key's value (`auth-rsp`, `pop-rsp`, `oauth-client-secret`):
/// opened when sealed, with a warning when stored in clear. `None` when
/// unset or when it cannot be opened (the error is recorded). Never echoes
/// the value.
pub(super) fn open_secret(
    cx: &mut Ctx<'_>,
    vmail: &Section,
    key: &str,
    keys: &mut KeyRing,
) -> Option<Secret> {
    let entry = vmail.get(key)?;
    let line = Some(entry.line);
    let again = format!("`vfxadmin config -a -p -e VMAIL {key}`");
    if !secrets::is_sealed(&entry.value) {
        cx.warn(
            entry.line,
            V,
            key,
            format!("is stored in clear; encrypt it with {again}"),
        );
        return Some(Secret::new(entry.value.as_str()));
    }
    let opened = match keys.key() {
        Ok(k) => secrets::open(k, &entry.value).map_err(|e| {
            format!(
                "{e} (key file {}; set it again with {again})",
                keys.path.display()
            )
        }),
        Err(why) => Err(format!(
            "is encrypted, but the key file cannot be used: {why}"
        )),
    };
    match opened {
        Ok(secret) => Some(secret),
        Err(msg) => {
            cx.error(line, V, key, msg);
            None
        }
    }
}
