//! The man pages `vmail-docgen` writes refer only to pages it writes too
//! (no `vfxadmin-help(1)`, every `vfxadmin-queue-list(1)` there), and a
//! list argument reads as a list in the synopsis (`[FILE]...`).
use crate::common;

use common::*;

#[test]
fn every_page_named_is_written_and_lists_read_as_lists() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), "vmail-docgen", &["out"], b"", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let man = dir.path().join("out/man");
    let written: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for page in ["vfxadmin-queue-list.1", "vfxadmin-quarantine-requeue.1"] {
        assert!(
            written.iter().any(|w| w == page),
            "{page} not in {written:?}"
        );
    }
    for file in &written {
        let text = std::fs::read_to_string(man.join(file)).unwrap();
        // References such as `vfxadmin\-queue\-list(1)` on a line of their own.
        for line in text.lines() {
            let plain = line.replace("\\-", "-");
            let Some(name) = plain
                .strip_suffix("(1)")
                .or_else(|| plain.strip_suffix("(8)"))
            else {
                continue;
            };
            let section = &plain[plain.len() - 2..plain.len() - 1];
            let page = format!("{name}.{section}");
            assert!(
                written.contains(&page),
                "{file} names {plain}, which is not written"
            );
        }
    }
    let vfx = std::fs::read_to_string(man.join("vfx.1")).unwrap();
    let synopsis = vfx
        .lines()
        .skip_while(|l| *l != ".SH SYNOPSIS")
        .nth(1)
        .unwrap();
    assert!(synopsis.ends_with("[\\fIFILE\\fR]... "), "{synopsis}");
}
