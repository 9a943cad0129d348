//! vmaild against the private Postfix and Dovecot of `tests/run.sh`: a
//! configuration for one of their ports, sealed logins, and what arrived.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use vmail_testkit::servers::{TestServers, TestUser};

pub const DELIVERY_WAIT: Duration = Duration::from_secs(20);

pub fn servers() -> TestServers {
    TestServers::from_env()
}

/// Writes `dir/vsisrv.ini` for `port`, trusting the servers' throwaway CA,
/// with a spool in `dir/spool`. `login` is sealed with a key in `dir`, so
/// the ini never holds the password in clear. `extra` is more `[VMAIL]`
/// lines.
pub fn write_config(
    dir: &Path,
    servers: &TestServers,
    port: u16,
    tls: &str,
    login: Option<(&str, &TestUser)>,
    extra: &str,
) -> PathBuf {
    let key_path = dir.join("vmail.key");
    let mut auth = String::new();
    if let Some((auth_type, user)) = login {
        let delim = if user.password.contains('|') {
            "\u{1}"
        } else {
            "|"
        };
        let sealed = seal(&key_path, &format!("{}{delim}{}", user.user, user.password));
        auth = format!("auth-type = {auth_type}\nauth-delim = {delim}\nauth-rsp = {sealed}\n");
    }
    let text = format!(
        "[VMAIL]\n\
         mail-server = {host}\n\
         mail-port = {port}\n\
         tls = {tls}\n\
         ca-file = {ca}\n\
         helo-name = vmail-test.example.test\n\
         {from}\
         timeout = 10s\n\
         key-file = {key}\n\
         {auth}{extra}\n\
         [VFXSCHED]\n\
         spool = spool\n\
         debug = On\n",
        host = servers.host,
        ca = servers.ca_cert.display(),
        key = key_path.display(),
        from = if extra.contains("from =") {
            ""
        } else {
            "from = fax@example.test\n"
        },
    );
    let ini = dir.join("vsisrv.ini");
    std::fs::write(&ini, text).unwrap();
    ini
}

/// Seals `plaintext` the way `vfxadmin config -e` does.
pub fn seal(key_path: &Path, plaintext: &str) -> String {
    let (key, _) = vmail_config::secrets::load_or_create_key(key_path).unwrap();
    vmail_config::secrets::seal(&key, plaintext).unwrap()
}

pub fn message_id(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{tag}.{}.{nanos}@vmail-test.example.test",
        std::process::id()
    )
}

/// An .eml from `from` to `to` with a known Message-ID and body.
pub fn eml(from: &str, to: &[&str], message_id: &str, body: &str) -> String {
    format!(
        "From: {from}\nTo: {}\nSubject: {message_id}\nMessage-ID: <{message_id}>\n\n{body}",
        to.join(", ")
    )
}

/// Every form of a login that must never be written down: the password,
/// the PLAIN blob and the base64 of each part.
pub fn secret_forms(user: &str, password: &str) -> Vec<String> {
    vec![
        password.to_string(),
        BASE64.encode(format!("\0{user}\0{password}")),
        BASE64.encode(password),
        BASE64.encode(format!("{user}\0{password}")),
    ]
}

/// Reads every file under `dir` except `skip` (the key file), lossily.
pub fn all_text_under(dir: &Path, skip: &[&Path]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if skip.contains(&path.as_path()) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                found.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    found
}

/// The job ids in a spool folder (`queue`, `sent`, `failed`).
pub fn jobs_in(spool: &Path, folder: &str) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(spool.join(folder))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.contains('.'))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

pub fn job_log(spool: &Path, id: &str) -> String {
    std::fs::read_to_string(spool.join("logs").join(format!("{id}.log"))).unwrap_or_default()
}

/// Messages in `address`'s Maildir whose text contains `needle`.
pub fn messages_containing(servers: &TestServers, address: &str, needle: &str) -> Vec<PathBuf> {
    let root = servers.maildir_of(address);
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let text = std::fs::read(entry.path()).unwrap_or_default();
            if String::from_utf8_lossy(&text).contains(needle) {
                found.push(entry.path());
            }
        }
    }
    found
}
