//! Integration tests of the spool, one module per behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash;
mod drops_eml;
mod drops_job;
mod drops_job_fax_pdf;
mod drops_job_template;
mod drops_local_names;
mod lock_and_layout;
mod quarantine;
mod quarantine_requeue;
mod queue_ops;
mod submit;

use std::path::Path;

use vmail_core::Envelope;
use vmail_spool::Spool;

/// A spool in a fresh temp dir.
pub fn spool() -> (tempfile::TempDir, Spool) {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path().join("spool")).unwrap();
    (dir, spool)
}

pub fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(from, to.iter().map(|s| s.to_string()).collect())
}

/// Drops a file the way a well-behaved program does: write a dot-file, rename.
pub fn drop_file(spool: &Spool, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let temp = spool.in_dir().join(format!(".{name}"));
    std::fs::write(&temp, bytes).unwrap();
    let path = spool.in_dir().join(name);
    std::fs::rename(&temp, &path).unwrap();
    path
}

/// The names in a folder, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
