//! The one crash-safe way to write: a temp file in `tmp/` (same file system),
//! write, fsync, rename into place, fsync the directory.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::SpoolError;

/// Mode of the spool's directories.
pub const DIR_MODE: u32 = 0o750;
/// Mode of every file the spool creates.
pub const FILE_MODE: u32 = 0o640;

/// Creates `path` with mode 0750 when missing; refuses a directory that
/// others may write to, and anything that is not a directory (a symlink
/// included: it is not followed).
pub fn ensure_dir(path: &Path) -> Result<(), SpoolError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => check_dir(path, &meta),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new()
                .mode(DIR_MODE)
                .create(path)
                .or_else(|err| match err.kind() {
                    io::ErrorKind::AlreadyExists => Ok(()),
                    _ => Err(err),
                })
                .map_err(SpoolError::io("create directory", path))?;
            // The umask may have taken bits away; say exactly what we mean.
            fs::set_permissions(path, Permissions::from_mode(DIR_MODE))
                .map_err(SpoolError::io("set the mode of", path))?;
            adopt_dir(path)
        }
        Err(err) => Err(SpoolError::io("inspect", path)(err)),
    }
}

pub fn check_dir(path: &Path, meta: &fs::Metadata) -> Result<(), SpoolError> {
    if !meta.is_dir() {
        return Err(SpoolError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(SpoolError::WritableByOthers {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Opens a new file for writing, failing if it exists.
pub fn create_new(path: &Path) -> Result<File, SpoolError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(SpoolError::io("create", path))?;
    adopt(&file, path)?;
    Ok(file)
}

/// Gives a file that root made in the spool to the owner of its folder, as
/// if vmaild had made it. vmaild runs as `vmail`; a job that `vfx` run by
/// root queued would otherwise be a root-owned 0640 file it cannot read,
/// stuck for ever. Nobody but root can give a file away, so for everyone
/// else this is one check made once per process.
pub fn adopt(file: &File, path: &Path) -> Result<(), SpoolError> {
    if !running_as_root() {
        return Ok(());
    }
    let meta = file.metadata().map_err(SpoolError::io("inspect", path))?;
    if meta.uid() != 0 {
        return Ok(());
    }
    let Some(dir) = folder_of(path) else {
        return Ok(());
    };
    let owner = fs::metadata(dir).map_err(SpoolError::io("inspect", dir))?;
    if (owner.uid(), owner.gid()) == (meta.uid(), meta.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(owner.uid()), Some(owner.gid()))
        .map_err(SpoolError::io("give to the spool's owner", path))
}

/// Whether this process creates files as root: `/proc/self` belongs to the
/// process's effective user. Asked once, so nobody else pays a syscall per
/// file for [`adopt`].
fn running_as_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0))
}

/// [`adopt`] for a folder root just made (not followed if it is a link).
fn adopt_dir(path: &Path) -> Result<(), SpoolError> {
    if !running_as_root() {
        return Ok(());
    }
    let meta = fs::symlink_metadata(path).map_err(SpoolError::io("inspect", path))?;
    let Some(parent) = folder_of(path).filter(|_| meta.uid() == 0) else {
        return Ok(());
    };
    let owner = fs::metadata(parent).map_err(SpoolError::io("inspect", parent))?;
    if (owner.uid(), owner.gid()) == (meta.uid(), meta.gid()) {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(owner.uid()), Some(owner.gid()))
        .map_err(SpoolError::io("give to the spool's owner", path))
}

/// Makes renames, links and unlinks in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SpoolError::io("fsync directory", dir))
}

/// Writes `bytes` to `dest` atomically through `tmp` (a path in `tmp/`):
/// a reader sees the old file or the new one, never a part.
pub fn write_atomic(tmp: &Path, dest: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let _ = fs::remove_file(tmp);
    let mut file = create_new(tmp)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(SpoolError::io("write", tmp))?;
    drop(file);
    rename(tmp, dest)?;
    sync_parent(dest)
}

/// `rename(2)` with the error naming both paths' source.
pub fn rename(from: &Path, to: &Path) -> Result<(), SpoolError> {
    fs::rename(from, to).map_err(SpoolError::io("rename", from))
}

/// fsync of the directory that holds `path`.
pub fn sync_parent(path: &Path) -> Result<(), SpoolError> {
    match folder_of(path) {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// The folder that holds `path`: `.` for a bare relative name such as
/// `spool` (whose [`Path::parent`] is the empty path, which no system
/// call takes), `None` for `/`.
pub fn folder_of(path: &Path) -> Option<&Path> {
    path.parent().map(|dir| {
        if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }
    })
}

/// Removes a file; a file that is already gone is not an error.
pub fn remove_if_present(path: &Path) -> Result<bool, SpoolError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(SpoolError::io("remove", path)(err)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_folder_of_a_bare_name_is_the_current_one() {
        use super::folder_of;
        use std::path::Path;
        assert_eq!(folder_of(Path::new("spool")), Some(Path::new(".")));
        assert_eq!(folder_of(Path::new("a/spool")), Some(Path::new("a")));
        assert_eq!(folder_of(Path::new("/var/spool")), Some(Path::new("/var")));
        assert_eq!(folder_of(Path::new("/")), None);
    }

    use super::*;

    #[test]
    fn what_root_makes_in_the_spool_belongs_to_the_folders_owner() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        ensure_dir(&spool).unwrap();
        // 65534 is nobody: only root can give the folder away.
        if std::os::unix::fs::chown(&spool, Some(65534), Some(65534)).is_err() {
            eprintln!("SKIPPED: not root, so nothing made here can be root's");
            return;
        }
        let job = spool.join("job");
        drop(create_new(&job).unwrap());
        ensure_dir(&spool.join("queue")).unwrap();
        write_atomic(&spool.join("state.tmp"), &spool.join("state"), b"x").unwrap();
        for made in ["job", "queue", "state"] {
            let meta = fs::symlink_metadata(spool.join(made)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "{made}");
        }
    }

    #[test]
    fn a_directory_writable_by_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        ensure_dir(&spool).unwrap();
        let mode = fs::metadata(&spool).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o750);
        fs::set_permissions(&spool, Permissions::from_mode(0o777)).unwrap();
        let err = ensure_dir(&spool).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "spool directory {0} is writable by others (mode 0777); fix it with `chmod o-w {0}`",
                spool.display()
            )
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("x.tmp");
        let dest = dir.path().join("x");
        write_atomic(&tmp, &dest, b"one").unwrap();
        write_atomic(&tmp, &dest, b"two").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        assert!(!tmp.exists());
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o777, 0o640);
    }
}
