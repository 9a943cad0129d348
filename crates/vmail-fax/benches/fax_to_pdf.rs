//! Pages per second and peak memory of vmail-fax on real faxes from
//! tests/make-faxes.sh, against libtiff's `tiff2pdf` (what HylaFAX's mail
//! scripts run) on the same files in the same run:
//!
//! - in process: `tiff_to_pdf` in a loop for about two seconds per fax;
//! - as processes, to compare with tiff2pdf: this bench re-run on one fax
//!   (`VMAIL_FAX_BENCH_ONE=FILE`, one conversion, output written) and
//!   `tiff2pdf -o OUT FILE`, each 20 times, under GNU time for the peak
//!   resident set (`%M`).
//!
//! `cargo bench -p vmail-fax` (needs libtiff-tools and ImageMagick, which
//! make-faxes.sh installs when missing, and /usr/bin/time).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("../tests/make-faxes.sh");

/// The faxes of make-faxes.sh, made once per version of the script.
fn faxes() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vmail-fax-tiffs");
    let stamp = dir.join("made-by.sh");
    let made = std::fs::read_to_string(&stamp).is_ok_and(|s| s == SCRIPT);
    if !made {
        let _ = std::fs::remove_dir_all(&dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make-faxes.sh");
        let status = Command::new("bash").arg(&script).arg(&dir).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "{} failed",
            script.display()
        );
        std::fs::write(&stamp, SCRIPT).unwrap_or_else(|e| panic!("{}: {e}", stamp.display()));
    }
    dir
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Converts `tiff` for about `time`; returns (pages per second, pages).
fn in_process(tiff: &[u8], time: Duration) -> (f64, usize) {
    let start = Instant::now();
    let mut pages = 0;
    let mut runs = 0u32;
    while start.elapsed() < time || runs < 3 {
        let converted = vmail_fax::tiff_to_pdf(tiff).unwrap_or_else(|e| panic!("{e}"));
        pages += converted.pages;
        runs += 1;
    }
    (
        pages as f64 / start.elapsed().as_secs_f64(),
        pages / runs as usize,
    )
}

/// Runs `command` (with `env` set) `times` times under GNU time; returns
/// (mean seconds per run, largest peak RSS in KB).
fn as_process(times: u32, command: &[&str], env: Option<(&str, &str)>) -> (f64, u64) {
    let mut total = Duration::ZERO;
    let mut peak = 0;
    for _ in 0..times {
        let start = Instant::now();
        let mut time = Command::new("/usr/bin/time");
        time.args(["-f", "%M"]).args(command);
        if let Some((key, value)) = env {
            time.env(key, value);
        }
        let out = time
            .output()
            .unwrap_or_else(|e| panic!("/usr/bin/time: {e}"));
        total += start.elapsed();
        assert!(out.status.success(), "{command:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let kb = stderr
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no peak RSS from time: {stderr}"));
        peak = peak.max(kb);
    }
    (total.as_secs_f64() / f64::from(times), peak)
}

fn main() {
    // The child: one conversion of one fax, the PDF written.
    if let Some(file) = std::env::var_os("VMAIL_FAX_BENCH_ONE") {
        let file = PathBuf::from(file);
        let converted = vmail_fax::tiff_to_pdf(&read(&file)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(file.with_extension("bench.pdf"), converted.pdf)
            .unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    // `cargo bench` passes --bench; a filter or --list is not for us.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = faxes();
    let me = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, what) in [
        (
            "g3-1d-normal-10p",
            "10-page normal (204x98) G3 1-D, one strip per page: carried",
        ),
        (
            "g3-2d-fine-10p",
            "10-page fine (204x196) G3 2-D, one strip per page: carried",
        ),
        (
            "g4-fine-10p",
            "10-page fine (204x196) G4, one strip per page: carried",
        ),
        (
            "g4-strips-fine-10p",
            "10-page fine G4, 64-row strips: re-encoded as G4",
        ),
        (
            "g4-lsb2msb-normal-10p",
            "10-page normal G4, fill order 2: re-encoded as G4",
        ),
    ] {
        let path = dir.join(format!("{name}.tif"));
        let tiff = read(&path);
        let (pages_per_s, pages) = in_process(&tiff, Duration::from_secs(2));
        let copy = out.path().join(format!("{name}.tif"));
        std::fs::copy(&path, &copy).unwrap_or_else(|e| panic!("{e}"));
        let copy_s = copy.to_string_lossy().into_owned();
        let me = me.to_string_lossy();
        let ours = as_process(20, &[&me], Some(("VMAIL_FAX_BENCH_ONE", &copy_s)));
        let pdf = out.path().join(format!("{name}.tiff2pdf.pdf"));
        let peer = as_process(
            20,
            &["tiff2pdf", "-o", &pdf.to_string_lossy(), &copy_s],
            None,
        );
        println!(
            "{what} ({} KB, {pages} pages): {pages_per_s:.0} pages/s in process; \
             as a process {:.1} ms per fax, peak RSS {} KB; tiff2pdf {:.1} ms, peak RSS {} KB: \
             {:.2}x tiff2pdf's speed",
            tiff.len() / 1024,
            ours.0 * 1000.0,
            ours.1,
            peer.0 * 1000.0,
            peer.1,
            peer.0 / ours.0,
        );
    }
}
