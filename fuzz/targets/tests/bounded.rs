//! A short, bounded fuzz run of every target on stable Rust, as part of
//! `cargo test`: first every committed regression input
//! (`fuzz/regressions/<target>/`), then the seeds (`fuzz/seeds/<target>/`,
//! plus the shipped `config/vsisrv.ini` for the ini reader), then mutated
//! inputs for `VMAIL_FUZZ_SECS` seconds (3) or `VMAIL_FUZZ_INPUTS` inputs
//! (200,000), whichever comes first, from seed `VMAIL_FUZZ_SEED`.
//!
//! An input that breaks a target is written to `fuzz/artifacts/<target>/`
//! and named in the failure; copy it into `fuzz/regressions/<target>/` once
//! fixed, so that every later run replays it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use vmail_fuzz_targets::stable::{self, Budget};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    stable::read_dir_files(dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect()
}

fn fuzz(name: &str, dictionary: &str, extra_seeds: &[&Path], target: &dyn Fn(&[u8]) -> bool) {
    let dir = fuzz_dir();
    let mut seeds = files(&dir.join("regressions").join(name));
    let regressions = seeds.len();
    seeds.extend(files(&dir.join("seeds").join(name)));
    for path in extra_seeds {
        seeds.push(std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display())));
    }
    assert!(seeds.len() > regressions, "no seeds in fuzz/seeds/{name}");
    let dict_path = dir.join("dict").join(dictionary);
    let dict_text = std::fs::read_to_string(&dict_path)
        .unwrap_or_else(|err| panic!("{}: {err}", dict_path.display()));
    let dictionary = stable::parse_dictionary(&dict_text)
        .unwrap_or_else(|err| panic!("{}: {err}", dict_path.display()));
    let budget = Budget::from_env();
    match stable::run(target, &seeds, &dictionary, budget) {
        Ok(report) => eprintln!(
            "fuzz {name}: {} inputs ({} regressions, {} seeds) in {:.1?}, {} accepted, pool {}, seed {:#x}",
            report.inputs,
            regressions,
            seeds.len() - regressions,
            report.elapsed,
            report.accepted,
            report.pool,
            budget.seed
        ),
        Err(finding) => {
            let artifacts = dir.join("artifacts").join(name);
            let path = artifacts.join(format!("stable-{:#x}-{}", budget.seed, finding.index));
            let saved = std::fs::create_dir_all(&artifacts)
                .and_then(|()| std::fs::write(&path, &finding.input));
            let preview: String = format!("{:?}", String::from_utf8_lossy(&finding.input))
                .chars()
                .take(2000)
                .collect();
            panic!(
                "fuzz {name}: input {} (seed {:#x}) broke the target: {}\n\
                 input ({} bytes) {}: {preview}",
                finding.index,
                budget.seed,
                finding.message,
                finding.input.len(),
                match saved {
                    Ok(()) => format!("saved as {}", path.display()),
                    Err(err) => format!("not saved ({err})"),
                },
            );
        }
    }
}

#[test]
fn ini_reader() {
    let shipped = fuzz_dir().join("../config/vsisrv.ini");
    fuzz(
        "ini_reader",
        "ini.dict",
        &[&shipped],
        &vmail_fuzz_targets::ini_reader,
    );
}

#[test]
fn job_file() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    vmail_fuzz_targets::make_fixtures(folder.path()).expect("fixture files");
    fuzz("job_file", "job.dict", &[], &|data: &[u8]| {
        vmail_fuzz_targets::job_file_in(data, folder.path())
    });
}

#[test]
fn eml_header() {
    fuzz(
        "eml_header",
        "eml.dict",
        &[],
        &vmail_fuzz_targets::eml_header,
    );
}

#[test]
fn smtp_reply() {
    fuzz(
        "smtp_reply",
        "smtp.dict",
        &[],
        &vmail_fuzz_targets::smtp_reply,
    );
}

#[test]
fn fax_tiff() {
    fuzz("fax_tiff", "tiff.dict", &[], &vmail_fuzz_targets::fax_tiff);
}
