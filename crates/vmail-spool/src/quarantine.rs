//! What an administrator does with `quarantine/` (`vfxadmin quarantine`):
//! list the files set aside with their reasons, look at one, put one back
//! into `in/` for pickup to take again, or delete one. Pickup's own side
//! (moving a bad drop here with its `.reason`) is in `drops`.
//!
//! A requeued file keeps its reason: it is written beside the file in
//! `in/` as the dot-file `.<new name>.requeued` (pickup ignores
//! dot-files), and pickup puts it into the new job's first log line
//! (`queued from in/NAME; requeued from quarantine/OLD, which said: ...`),
//! or into the new `.reason` when the file is quarantined again.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use thiserror::Error;

use crate::error::SpoolError;
use crate::fsutil;
use crate::spool::Spool;

/// The suffix of the reason written beside each quarantined file.
const REASON: &str = ".reason";
/// The suffix of the reason a requeued file carries back into `in/`.
pub(crate) const REQUEUED: &str = ".requeued";

/// One file in `quarantine/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Its name in `quarantine/` (what the commands take).
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (`0o640`).
    pub mode: u32,
    /// When it was set aside (its `.reason`'s time, else the file's).
    pub since: SystemTime,
    /// Why, as pickup wrote it (`in/x.eml: has no recipients ...`); `None`
    /// when the `.reason` is missing.
    pub reason: Option<String>,
}

/// Why a quarantine command cannot be done. The texts name the file.
#[derive(Debug, Error)]
pub enum QuarantineError {
    #[error(
        "`{name}` is not a name in quarantine/ (a file name as `vfxadmin quarantine list` shows it)"
    )]
    BadName { name: String },
    #[error("no file {name} in {}", dir.display())]
    Missing { name: String, dir: PathBuf },
    #[error(
        "{name} is not a .eml or .job file, so pickup would set it aside again: read it, then delete it (or give it one of those names and move it into in/ yourself)"
    )]
    NotADrop { name: String },
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

impl Spool {
    /// The files in `quarantine/`, sorted by name, each with its reason.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, SpoolError> {
        let dir = self.quarantine_dir();
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(SpoolError::io("read directory", &dir))? {
            let entry = entry.map_err(SpoolError::io("read directory", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(REASON) && !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        // A file gone between the listing and the look (deleted meanwhile)
        // is left out.
        Ok(names
            .into_iter()
            .filter_map(|name| self.describe(&name).ok())
            .collect())
    }

    /// One file of `quarantine/` by name.
    pub fn quarantined_file(&self, name: &str) -> Result<Quarantined, QuarantineError> {
        let name = checked_name(name)?;
        self.describe(name).map_err(|err| match err {
            SpoolError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                QuarantineError::Missing {
                    name: name.to_string(),
                    dir: self.quarantine_dir(),
                }
            }
            other => QuarantineError::Spool(other),
        })
    }

    /// Puts a quarantined drop back into `in/` under a fresh name (so that
    /// pickup takes it as a new file), its reason beside it for the new
    /// job's log. Returns the new path. The rename is the commit: the
    /// reason is written before it, the old `.reason` removed after.
    pub fn requeue_quarantined(&self, name: &str) -> Result<PathBuf, QuarantineError> {
        let found = self.quarantined_file(name)?;
        let (stem, suffix) = drop_suffix(&found.name).ok_or_else(|| QuarantineError::NotADrop {
            name: found.name.clone(),
        })?;
        let fresh = format!(
            "{stem}.requeued-{:08x}.{suffix}",
            vmail_core::unique::random_u64() & 0xffff_ffff
        );
        let dest = self.in_dir().join(&fresh);
        let carried = format!(
            "requeued from quarantine/{}, which said: {}",
            found.name,
            found.reason.as_deref().unwrap_or("(no reason kept)").trim()
        );
        let sidecar = self.in_dir().join(format!(".{fresh}{REQUEUED}"));
        fsutil::write_atomic(&self.temp_path("requeued"), &sidecar, carried.as_bytes())?;
        if let Err(err) = fsutil::rename(&found.path, &dest) {
            let _ = fs::remove_file(&sidecar);
            return Err(err.into());
        }
        fsutil::remove_if_present(&self.reason_path(&found.name))?;
        fsutil::sync_dir(&self.quarantine_dir())?;
        Ok(dest)
    }

    /// Deletes a quarantined file and its reason.
    pub fn delete_quarantined(&self, name: &str) -> Result<(), QuarantineError> {
        let found = self.quarantined_file(name)?;
        fs::remove_file(&found.path).map_err(SpoolError::io("remove", &found.path))?;
        fsutil::remove_if_present(&self.reason_path(&found.name))?;
        fsutil::sync_dir(&self.quarantine_dir())?;
        Ok(())
    }

    fn reason_path(&self, name: &str) -> PathBuf {
        self.quarantine_dir().join(format!("{name}{REASON}"))
    }

    fn describe(&self, name: &str) -> Result<Quarantined, SpoolError> {
        let path = self.quarantine_dir().join(name);
        let meta = fs::symlink_metadata(&path).map_err(SpoolError::io("read", &path))?;
        let reason_path = self.reason_path(name);
        let reason = fs::read_to_string(&reason_path).ok();
        let since = fs::metadata(&reason_path)
            .and_then(|m| m.modified())
            .or_else(|_| meta.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Quarantined {
            name: name.to_string(),
            path,
            size: meta.len(),
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            since,
            reason: reason.map(|r| r.trim_end().to_string()),
        })
    }
}

/// A plain file name: no folder, not a dot-file, not a `.reason`.
fn checked_name(name: &str) -> Result<&str, QuarantineError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains('/')
        && !name.contains('\0')
        && !name.ends_with(REASON);
    if plain {
        Ok(name)
    } else {
        Err(QuarantineError::BadName {
            name: name.to_string(),
        })
    }
}

/// `("invoice", "job")` for `invoice.job` and for `invoice.job.2` (the
/// name pickup gives a second file of the same name); `None` for a name
/// pickup would not take.
fn drop_suffix(name: &str) -> Option<(&str, &str)> {
    let base = match name.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    };
    let (stem, suffix) = base.rsplit_once('.')?;
    (matches!(suffix, "eml" | "job") && !stem.is_empty()).then_some((stem, suffix))
}

/// The reason a requeued drop carried back into `in/`, read and removed:
/// `None` for an ordinary drop.
pub(crate) fn take_carried_reason(drop: &Path) -> Option<String> {
    let sidecar = carried_reason_path(drop)?;
    let text = fs::read_to_string(&sidecar).ok()?;
    Some(crate::entry::one_line(text.trim()))
}

/// `in/.NAME.requeued` for `in/NAME`.
pub(crate) fn carried_reason_path(drop: &Path) -> Option<PathBuf> {
    let name = drop.file_name()?.to_string_lossy();
    Some(drop.with_file_name(format!(".{name}{REQUEUED}")))
}

/// Owner and mode in words, for the reason of a file vmaild cannot read:
/// `owner fax (uid 1001), group fax (gid 1001), mode 0600`.
pub(crate) fn owner_and_mode(meta: &fs::Metadata) -> String {
    let (uid, gid) = (meta.uid(), meta.gid());
    let user = crate::maildrop::user_name(uid).unwrap_or_else(|| "?".to_string());
    let group = group_name(gid).unwrap_or_else(|| "?".to_string());
    format!(
        "owner {user} (uid {uid}), group {group} (gid {gid}), mode {:04o}",
        meta.mode() & 0o7777
    )
}

/// The name of group `gid` in `/etc/group`.
fn group_name(gid: u32) -> Option<String> {
    let text = fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == gid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_suffixes() {
        assert_eq!(drop_suffix("a.eml"), Some(("a", "eml")));
        assert_eq!(drop_suffix("inv.job.2"), Some(("inv", "job")));
        assert_eq!(drop_suffix("20261201-000000-00aa"), None);
        assert_eq!(drop_suffix("x.state"), None);
        assert_eq!(drop_suffix(".eml"), None);
        for bad in ["", "../x.eml", "a/b.eml", ".hidden", "a.eml.reason"] {
            assert!(checked_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            carried_reason_path(Path::new("/s/in/a.eml")).unwrap(),
            Path::new("/s/in/.a.eml.requeued")
        );
    }
}
