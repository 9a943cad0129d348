//! `vmail-docgen OUT_DIR`, as packaging calls it.
use crate::common;

use common::*;

#[test]
fn man_pages_and_completions_for_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), "vmail-docgen", &["out"], b"", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = dir.path().join("out");
    for page in [
        "vfx.1",
        "vfxadmin.1",
        "vfxadmin-config.1",
        "vfxadmin-queue.1",
        "vfxadmin-status.1",
        "vmail-sendmail.1",
    ] {
        let text = std::fs::read_to_string(out.join("man").join(page)).unwrap();
        assert!(
            text.starts_with(".ie \\n(.g .ds Aq") && text.contains(".SH NAME"),
            "{page}: {text}"
        );
    }
    let vfx = std::fs::read_to_string(out.join("man/vfx.1")).unwrap();
    assert!(
        vfx.contains("cover\\-only") && vfx.contains("classic"),
        "{vfx}"
    );
    // queue list's filters (issue 15) are on its own page.
    let list = std::fs::read_to_string(out.join("man/vfxadmin-queue-list.1")).unwrap();
    for flag in [
        "\\-\\-limit",
        "\\-\\-held",
        "\\-\\-deferred",
        "\\-\\-older\\-than",
    ] {
        assert!(
            list.contains(flag),
            "{flag} not in vfxadmin-queue-list.1:\n{list}"
        );
    }
    // vmaild's page comes from its clap definition too, in section 8.
    let vmaild = std::fs::read_to_string(out.join("man/vmaild.8")).unwrap();
    assert!(vmaild.contains(".TH vmaild 8"), "{vmaild}");
    for text in [
        "\\-\\-check\\-config",
        "\\-\\-once",
        "SIGHUP",
        "/etc/vmail/vmail.key",
        "75",
    ] {
        assert!(vmaild.contains(text), "{text} not in vmaild.8:\n{vmaild}");
    }
    let sendmail = std::fs::read_to_string(out.join("man/vmail-sendmail.1")).unwrap();
    assert!(
        sendmail.contains("\\-t") && !sendmail.contains("envelope_id"),
        "hidden options stay hidden"
    );
    for file in [
        "bash/vfx.bash",
        "zsh/_vfxadmin",
        "fish/vmail-sendmail.fish",
        "bash/vfxadmin.bash",
    ] {
        let path = out.join("completions").join(file);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 100,
            "{}",
            path.display()
        );
    }
    let queue = std::fs::read_to_string(out.join("completions/bash/vfxadmin.bash")).unwrap();
    assert!(queue.contains("release"), "subcommands are completed");
    let run = run_in(dir.path(), "vmail-docgen", &[], b"", &[]);
    assert_eq!(run.code, 64);
    assert_eq!(
        run.stderr,
        "usage: vmail-docgen OUT_DIR   (writes OUT_DIR/man and OUT_DIR/completions)\n"
    );
}
