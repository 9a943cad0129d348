//! vmaild against the private Postfix and Dovecot of `tests/run.sh`: a
//! configuration for one of their ports, sealed logins, and what arrived.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vmail_testkit::process::wait_for_within;
use vmail_testkit::servers::TestServers;

use super::daemon::{drop_eml, wait_for};

pub const DELIVERY_WAIT: Duration = Duration::from_secs(20);

pub fn servers() -> TestServers {
    TestServers::from_env()
}

/// Waits, bounded, until `folder` (`queue`, `sent`, `failed`) of `spool`
/// holds exactly one job; its id.
pub fn one_job_in(spool: &Path, folder: &str) -> String {
    wait_for(
        &format!("the job in {folder}/"),
        || jobs_in(spool, folder).len() == 1,
        || show(spool),
    );
    jobs_in(spool, folder)[0].clone()
}

/// [`one_job_in`]'s log.
pub fn job_log_in(spool: &Path, folder: &str) -> String {
    job_log(spool, &one_job_in(spool, folder))
}

/// Waits, bounded, until the log of a job in `queue/` contains `text`
/// (`next attempt at` for a deferral); that job's id.
pub fn wait_for_queued_log(what: &str, spool: &Path, text: &str) -> String {
    let mut found = None;
    wait_for(
        what,
        || {
            found = jobs_in(spool, "queue")
                .into_iter()
                .find(|id| job_log(spool, id).contains(text));
            found.is_some()
        },
        || show(spool),
    );
    let Some(id) = found else {
        unreachable!("wait_for returns only once the log is there")
    };
    id
}

/// What a failed wait shows: the daemon log of `spool` and every job log.
pub fn show(spool: &Path) -> String {
    let mut text = std::fs::read_to_string(spool.join("logs/vmail")).unwrap_or_default();
    for folder in ["queue", "sent", "failed"] {
        for id in jobs_in(spool, folder) {
            text.push_str(&format!("\n--- {folder}/{id}:\n{}", job_log(spool, &id)));
        }
    }
    text
}

/// The message with Message-ID `id` as delivered, waiting at most
/// [`DELIVERY_WAIT`]; panics with `show` if it never comes.
pub fn arrived(servers: &TestServers, id: &str, show: impl Fn() -> String) -> Vec<u8> {
    servers
        .delivered_message(id, DELIVERY_WAIT)
        .unwrap_or_else(|| panic!("{id} never arrived\n{}", show()))
}

/// Waits at most [`DELIVERY_WAIT`] until `address`'s Maildir holds a
/// message containing `needle`; the path of one such message.
pub fn wait_for_message_containing(
    servers: &TestServers,
    address: &str,
    needle: &str,
    show: impl Fn() -> String,
) -> PathBuf {
    let mut found = None;
    wait_for_within(
        &format!("a message containing `{needle}` for {address}"),
        DELIVERY_WAIT,
        || {
            found = messages_containing(servers, address, needle).pop();
            found.is_some()
        },
        || format!("{}\n{}", show(), servers.log_tails(30)),
    );
    let Some(path) = found else {
        unreachable!("wait_for_within returns only once the message is there")
    };
    path
}

/// Asserts that no form of `user`'s `password` (see [`secret_forms`]) is
/// written in any file under `dir` but its key file `vmail.key`; the
/// files it searched. `case` starts each failure message.
pub fn assert_no_secret_under(dir: &Path, user: &str, password: &str, case: &str) -> Vec<PathBuf> {
    let key = dir.join("vmail.key");
    let files = all_text_under(dir, &[key.as_path()]);
    for (path, text) in &files {
        for form in secret_forms(user, password) {
            assert!(
                !text.contains(&form),
                "{case}: `{form}` written in {}",
                path.display()
            );
        }
    }
    files.into_iter().map(|(path, _)| path).collect()
}

/// Seals `plaintext` the way `vfxadmin config -e` does.
pub fn seal(key_path: &Path, plaintext: &str) -> String {
    let (key, _) = vmail_config::secrets::load_or_create_key(key_path).unwrap();
    vmail_config::secrets::seal(&key, plaintext).unwrap()
}

pub use vmail_testkit::servers::message_id;

/// Drops an .eml from fax@example.test to `to` with `body` into `spool`,
/// named after its Message-ID (a new one, tagged `tag`); that Message-ID.
pub fn send(spool: &Path, to: &str, tag: &str, body: &str) -> String {
    let id = message_id(tag);
    drop_eml(
        spool,
        &format!("{}.eml", id.replace('@', "_")),
        &eml("fax@example.test", &[to], &id, body),
    );
    id
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
