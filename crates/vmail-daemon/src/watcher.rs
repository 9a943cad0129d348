//! Filesystem events as hints to the scheduler.
//!
//! The watcher never decides anything: it only says "look at `in/`" or "job
//! X changed on disk". A file counts as complete when it was closed after
//! writing or renamed in; a bare create in `in/` is ignored because the
//! writer may still be writing. In `queue/` a create is complete: `vfx` and
//! the shim write the message in `tmp/`, fsync it, and hard-link it in
//! whole (a fresh job has no state file yet). `maildrop/`, beside `in/`,
//! is watched like it: `vmail-postdrop` renames a complete file in. Events lost to an inotify overflow, or to a full
//! channel, turn into one rescan: the directory is the truth.

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
use vmail_core::JobId;

/// What the watcher tells the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// Something complete arrived in the drop folder or in `maildrop/`.
    Drop,
    /// A queue entry appeared or its state changed (`vfx`, `vfxadmin queue`).
    QueueChanged(JobId),
    /// Events were lost; compare the index with the disk.
    Rescan,
}

/// Keeps the OS watch alive; dropping it stops the hints.
pub struct SpoolWatcher {
    _watcher: RecommendedWatcher,
}

impl SpoolWatcher {
    pub fn start(
        drop_dir: &Path,
        queue_dir: &Path,
        hints: mpsc::Sender<Hint>,
    ) -> notify::Result<SpoolWatcher> {
        let drop_dir = drop_dir.to_path_buf();
        let queue_dir = queue_dir.to_path_buf();
        let maildrop = drop_dir.with_file_name("maildrop");
        let (watch_drop, watch_queue) = (drop_dir.clone(), queue_dir.clone());
        let watch_maildrop = maildrop.clone();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
            let hint = match event {
                Ok(event) => classify(&event, &drop_dir, &queue_dir)
                    .or_else(|| classify(&event, &maildrop, &queue_dir)),
                Err(_) => Some(Hint::Rescan),
            };
            if let Some(hint) = hint {
                forward(&hints, hint);
            }
        })?;
        watcher.watch(&watch_drop, RecursiveMode::NonRecursive)?;
        watcher.watch(&watch_queue, RecursiveMode::NonRecursive)?;
        // An older spool (or a test's) may have no maildrop/: no hints
        // from it then, and the slow rescan still reads it if it appears.
        if watch_maildrop.is_dir() {
            watcher.watch(&watch_maildrop, RecursiveMode::NonRecursive)?;
        }
        Ok(SpoolWatcher { _watcher: watcher })
    }
}

/// A full channel means the scheduler is behind; it will rescan, so one
/// `Rescan` is enough and the watcher thread never blocks.
fn forward(hints: &mpsc::Sender<Hint>, hint: Hint) {
    if let Err(mpsc::error::TrySendError::Full(_)) = hints.try_send(hint) {
        let _ = hints.try_send(Hint::Rescan);
    }
}

fn classify(event: &Event, drop_dir: &Path, queue_dir: &Path) -> Option<Hint> {
    if event.need_rescan() {
        return Some(Hint::Rescan);
    }
    let complete = matches!(
        event.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
    );
    let linked_in = matches!(event.kind, EventKind::Create(CreateKind::File));
    if !complete && !linked_in {
        return None;
    }
    let path: &PathBuf = event.paths.last()?;
    let dir = path.parent()?;
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') || name.ends_with(".tmp") {
        return None;
    }
    if dir == drop_dir && complete {
        Some(Hint::Drop)
    } else if dir == queue_dir {
        let stem = name.split('.').next()?;
        JobId::parse(stem).ok().map(Hint::QueueChanged)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::Flag;

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_complete_files_are_hints() {
        let (d, q) = (Path::new("/s/in"), Path::new("/s/queue"));
        let closed = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        let created = EventKind::Create(CreateKind::File);
        assert_eq!(
            classify(&event(closed, "/s/in/a.eml"), d, q),
            Some(Hint::Drop)
        );
        assert_eq!(
            classify(&event(renamed, "/s/in/a.job"), d, q),
            Some(Hint::Drop)
        );
        assert_eq!(classify(&event(created, "/s/in/a.eml"), d, q), None);
        assert_eq!(
            classify(&event(created, "/s/queue/job-2"), d, q),
            Some(Hint::QueueChanged(JobId::parse("job-2").unwrap())),
            "vfx hard-links a finished message into queue/"
        );
        assert_eq!(classify(&event(closed, "/s/in/.a.eml"), d, q), None);
        assert_eq!(classify(&event(renamed, "/s/in/a.eml.tmp"), d, q), None);
        assert_eq!(
            classify(&event(renamed, "/s/queue/job-1.state"), d, q),
            Some(Hint::QueueChanged(JobId::parse("job-1").unwrap()))
        );
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert_eq!(classify(&overflow, d, q), Some(Hint::Rescan));
    }

    #[tokio::test]
    async fn a_renamed_in_file_is_reported_without_polling() {
        let root = tempfile::tempdir().unwrap();
        let (drop_dir, queue_dir) = (root.path().join("in"), root.path().join("queue"));
        std::fs::create_dir_all(&drop_dir).unwrap();
        std::fs::create_dir_all(&queue_dir).unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let _watcher = SpoolWatcher::start(&drop_dir, &queue_dir, tx).unwrap();
        std::fs::write(root.path().join("x.tmp"), "x").unwrap();
        std::fs::rename(root.path().join("x.tmp"), drop_dir.join("x.eml")).unwrap();
        let hint = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("no hint within 5 s");
        assert_eq!(hint, Some(Hint::Drop));
    }

    #[tokio::test]
    async fn a_file_renamed_into_maildrop_is_a_drop() {
        let root = tempfile::tempdir().unwrap();
        let (drop_dir, queue_dir) = (root.path().join("in"), root.path().join("queue"));
        let maildrop = root.path().join("maildrop");
        for dir in [&drop_dir, &queue_dir, &maildrop] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let (tx, mut rx) = mpsc::channel(16);
        let _watcher = SpoolWatcher::start(&drop_dir, &queue_dir, tx).unwrap();
        std::fs::write(maildrop.join(".20261201-000000-00000000ab"), "x").unwrap();
        std::fs::rename(
            maildrop.join(".20261201-000000-00000000ab"),
            maildrop.join("20261201-000000-00000000ab"),
        )
        .unwrap();
        let hint = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("no hint within 5 s");
        assert_eq!(hint, Some(Hint::Drop));
    }
}
