//! What vmaild can read as the user its unit runs it as. `vfxadmin check`
//! is run as root, who reads every file; vmaild runs as `User=` of
//! vmaild.service (vmail) and reads the configuration, the key file and the
//! CA files at start and on every SIGHUP. A file only root can read would
//! pass the check and stop the daemon later; here it is a `[FAIL]` now.
//!
//! The check reads owner, group and mode bits of the file and of every
//! folder above it, as the kernel would for that user's uid, gid and
//! supplementary groups (from /etc/passwd and /etc/group). ACLs are not
//! read: a file readable only through an ACL is reported as unreadable.

use super::Verdict;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use vmail_config::Config;
use vmail_core::SmtpSettings;

/// Where an installed vmaild.service is looked for, an administrator's
/// copy first.
const UNIT_FILES: [&str; 3] = [
    "/etc/systemd/system/vmaild.service",
    "/lib/systemd/system/vmaild.service",
    "/usr/lib/systemd/system/vmaild.service",
];

/// The user the package's unit names when no unit says otherwise.
const DEFAULT_USER: &str = "vmail";

/// A local account, as the kernel checks permissions for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Primary and supplementary groups.
    pub groups: Vec<u32>,
}

impl Account {
    /// `name` from /etc/passwd, with its groups from /etc/group; `None`
    /// when there is no such local user.
    pub fn lookup(name: &str) -> Option<Account> {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        let (uid, gid) = passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 4 && fields[0] == name)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })?;
        let mut groups = vec![gid];
        let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
        for line in group.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() >= 4
                && fields[3].split(',').any(|member| member == name)
                && let Ok(id) = fields[2].parse()
            {
                groups.push(id);
            }
        }
        Some(Account {
            name: name.to_string(),
            uid,
            gid,
            groups,
        })
    }

    /// Whether this account may `bits` (4 read, 1 search) what `meta` is.
    fn may(&self, meta: &std::fs::Metadata, bits: u32) -> bool {
        let mode = meta.mode();
        let granted = if self.uid == 0 {
            return true;
        } else if meta.uid() == self.uid {
            mode >> 6
        } else if self.groups.contains(&meta.gid()) {
            mode >> 3
        } else {
            mode
        };
        granted & bits == bits
    }
}

/// Why `account` cannot read a file: the path that stops it (the file, or
/// a folder above it it may not enter), with that path's owner and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub at: PathBuf,
    pub is_folder: bool,
    pub owner: String,
    pub mode: u32,
}

/// Checks that `account` can read `path`: search permission on each folder
/// above it, read permission on the file. A file that does not exist is
/// not this check's business (the configuration check reports it).
pub fn readable(account: &Account, path: &Path) -> Result<(), Blocked> {
    let Ok(real) = std::fs::canonicalize(path) else {
        return Ok(());
    };
    let folders: Vec<&Path> = real.ancestors().skip(1).collect();
    for folder in folders.into_iter().rev() {
        if let Ok(meta) = std::fs::metadata(folder)
            && !account.may(&meta, 1)
        {
            return Err(blocked(folder, &meta, true));
        }
    }
    match std::fs::metadata(&real) {
        Ok(meta) if !account.may(&meta, 4) => Err(blocked(&real, &meta, false)),
        _ => Ok(()),
    }
}

fn blocked(path: &Path, meta: &std::fs::Metadata, is_folder: bool) -> Blocked {
    Blocked {
        at: path.to_path_buf(),
        is_folder,
        owner: format!("{}:{}", user_name(meta.uid()), group_name(meta.gid())),
        mode: meta.mode() & 0o7777,
    }
}

/// The `User=` of the installed vmaild.service, else `vmail`.
pub fn daemon_user() -> String {
    UNIT_FILES
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|unit| {
            unit.lines()
                .filter_map(|line| line.trim().strip_prefix("User="))
                .map(|user| user.trim().to_string())
                .next_back()
        })
        .unwrap_or_else(|| DEFAULT_USER.to_string())
}

/// The files vmaild reads, each with the key that names it.
fn files(config: &Config, settings: &SmtpSettings) -> Vec<(String, PathBuf)> {
    let mut files = vec![("the configuration".to_string(), config.path.clone())];
    if config.key_file.exists() {
        files.push(("[VMAIL] key-file".to_string(), config.key_file.clone()));
    }
    if let Some(ca) = &settings.ca_file {
        files.push(("[VMAIL] ca-file".to_string(), ca.clone()));
    }
    if let Some(client) = &settings.client_certificate {
        files.push((
            "[VMAIL] tls-cert-file".to_string(),
            client.cert_file.clone(),
        ));
        files.push(("[VMAIL] tls-key-file".to_string(), client.key_file.clone()));
    }
    if let Some(oauth) = &settings.oauth {
        if let Some(key) = &oauth.key_file {
            files.push(("[VMAIL] oauth-key-file".to_string(), key.clone()));
        }
        if let Some(ca) = &oauth.ca_file {
            files.push(("[VMAIL] oauth-ca-file".to_string(), ca.clone()));
        }
    }
    files
}

/// One `[FAIL]` per file the daemon's user cannot read, when run as root
/// (another user sees only what it may read itself, and says so on its
/// own). Nothing when the daemon's user does not exist here.
pub fn verdicts(config: &Config, settings: &SmtpSettings) -> Vec<Verdict> {
    let root = std::fs::metadata("/proc/self").is_ok_and(|me| me.uid() == 0);
    if !root {
        return Vec::new();
    }
    let Some(account) = Account::lookup(&daemon_user()) else {
        return Vec::new();
    };
    verdicts_as(&account, &files(config, settings))
}

/// The verdicts for `files` as `account` (separate for the tests).
pub fn verdicts_as(account: &Account, files: &[(String, PathBuf)]) -> Vec<Verdict> {
    files
        .iter()
        .filter_map(|(key, path)| {
            let blocked = readable(account, path).err()?;
            Some(Verdict::fail(unreadable(account, key, path, &blocked)))
        })
        .collect()
}

fn unreadable(account: &Account, key: &str, path: &Path, blocked: &Blocked) -> String {
    let user = &account.name;
    let head = format!(
        "vmaild runs as {user} (User= of vmaild.service) and cannot read {key} {}",
        path.display()
    );
    let at = blocked.at.display();
    let what = format!("{at} is {} mode {:04o}", blocked.owner, blocked.mode);
    if blocked.is_folder {
        return format!(
            "{head}: {what}, which {user} may not enter; move the file where {user} can reach \
             it (for example /etc/vmail/) and name the new path"
        );
    }
    // Private keys stay private (vmail refuses them group-readable): the
    // daemon's user owns them instead.
    let fix = if key == "[VMAIL] key-file" || key == "[VMAIL] tls-key-file" {
        format!("chown {user}:{user} {at} && chmod 0600 {at}")
    } else {
        format!("chgrp {} {at} && chmod g+r {at}", group_name(account.gid))
    };
    format!("{head}: {what}; fix it with `{fix}`; a SIGHUP would otherwise fail later")
}

fn user_name(uid: u32) -> String {
    name_in("/etc/passwd", uid).unwrap_or_else(|| uid.to_string())
}

fn group_name(gid: u32) -> String {
    name_in("/etc/group", gid).unwrap_or_else(|| gid.to_string())
}

/// The name with id `id` in a passwd(5)- or group(5)-shaped file.
fn name_in(file: &str, id: u32) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let found: u32 = fields.nth(1)?.parse().ok()?;
        (found == id).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn nobody() -> Account {
        Account::lookup("nobody").expect("a nobody user")
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Runs only as root (it makes root-owned files nobody cannot read).
    fn is_root() -> bool {
        std::fs::metadata("/proc/self").is_ok_and(|me| me.uid() == 0)
    }

    #[test]
    fn a_ca_file_only_root_reads_is_a_fail_with_the_fix() {
        if !is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "pem").unwrap();
        chmod(&ca, 0o600);
        let files = [("[VMAIL] ca-file".to_string(), ca.clone())];
        let verdicts = verdicts_as(&nobody(), &files);
        let ca = ca.display();
        assert_eq!(
            verdicts,
            [Verdict::fail(format!(
                "vmaild runs as nobody (User= of vmaild.service) and cannot read [VMAIL] ca-file \
                 {ca}: {ca} is root:root mode 0600; fix it with `chgrp nogroup {ca} && chmod g+r \
                 {ca}`; a SIGHUP would otherwise fail later"
            ))]
        );
        chmod(dir.path().join("ca.pem").as_path(), 0o644);
        assert!(verdicts_as(&nobody(), &files).is_empty());
    }

    #[test]
    fn a_client_key_only_root_reads_is_given_to_the_daemon_user_not_its_group() {
        if !is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let key = dir.path().join("client.key");
        std::fs::write(&key, "pem").unwrap();
        chmod(&key, 0o600);
        let files = [("[VMAIL] tls-key-file".to_string(), key.clone())];
        let verdicts = verdicts_as(&nobody(), &files);
        let key = key.display();
        assert_eq!(
            verdicts,
            [Verdict::fail(format!(
                "vmaild runs as nobody (User= of vmaild.service) and cannot read [VMAIL] \
                 tls-key-file {key}: {key} is root:root mode 0600; fix it with `chown \
                 nobody:nobody {key} && chmod 0600 {key}`; a SIGHUP would otherwise fail later"
            ))]
        );
    }

    #[test]
    fn a_folder_it_may_not_enter_is_named() {
        if !is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o700);
        let key = dir.path().join("vmail.key");
        std::fs::write(&key, "00").unwrap();
        chmod(&key, 0o644);
        let files = [("[VMAIL] key-file".to_string(), key.clone())];
        let verdicts = verdicts_as(&nobody(), &files);
        assert_eq!(verdicts.len(), 1);
        let folder = std::fs::canonicalize(dir.path()).unwrap();
        assert!(
            verdicts[0].text.contains(&format!(
                ": {} is root:root mode 0700, which nobody may not enter; move the file",
                folder.display()
            )),
            "{}",
            verdicts[0].text
        );
    }

    #[test]
    fn group_and_owner_bits_count_for_their_own() {
        let account = Account {
            name: "vmail".into(),
            uid: 998,
            gid: 997,
            groups: vec![997],
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        chmod(&file, 0o640);
        let meta = std::fs::metadata(&file).unwrap();
        // Owned by the test's user and group, not vmail's: only "other".
        assert!(!account.may(&meta, 4));
        chmod(&file, 0o604);
        let meta = std::fs::metadata(&file).unwrap();
        assert!(account.may(&meta, 4));
    }
}
