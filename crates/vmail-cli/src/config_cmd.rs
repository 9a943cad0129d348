//! `vfxadmin config`: print one key of vsisrv.ini, or add/replace it,
//! optionally prompting for the value and sealing it.
//!
//! ```text
//! vfxadmin config SECTION KEY                 print the value (<encrypted> when sealed)
//! vfxadmin config -a SECTION KEY VALUE        add or replace
//! vfxadmin config -a -p [-e] SECTION KEY      prompt twice without echo [and seal]
//! vfxadmin config -a -e SECTION KEY VALUE     seal VALUE
//! ```

use crate::prompt;
use anyhow::{Context, bail};
use clap::Args;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use vmail_config::{IniDocument, secrets};
use vmail_core::Secret;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  vfxadmin config VMAIL mail-server
  vfxadmin config -a VMAIL mail-server smtp.example.com
  vfxadmin config -a -p -e VMAIL auth-rsp      (asks for user:password twice)

With -p and standard input not a terminal, the value and its confirmation
are read as two lines from standard input.")]
pub struct ConfigArgs {
    /// Add the key, or replace its value
    #[arg(short = 'a', long = "add")]
    pub add: bool,

    /// Prompt for the value twice without echo (with -a)
    #[arg(short = 'p', long = "prompt", requires = "add")]
    pub prompt: bool,

    /// Encrypt the value with the key file, creating it if needed (with -a)
    #[arg(short = 'e', long = "encrypt", requires = "add")]
    pub encrypt: bool,

    /// The section, for example VMAIL or VFXSCHED (any case)
    pub section: String,

    /// The key, for example mail-server or auth-rsp (any case)
    pub key: String,

    /// The new value (with -a, unless -p)
    #[arg(requires = "add", conflicts_with = "prompt")]
    pub value: Option<String>,
}

pub fn run(path: &Path, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    if args.add {
        set(path, args)?;
        Ok(ExitCode::SUCCESS)
    } else {
        get(path, args)
    }
}

fn get(path: &Path, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let doc = IniDocument::read(path)?;
    match doc.get(&args.section, &args.key) {
        Some(value) if !value.is_empty() => {
            let shown = if secrets::is_sealed(value) {
                "<encrypted>"
            } else {
                value
            };
            println!("{shown}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!(
                "vfxadmin: [{}] {} is not set in {} (vmail uses its default, if it has one)",
                args.section,
                args.key,
                path.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn set(path: &Path, args: &ConfigArgs) -> anyhow::Result<()> {
    let mut doc = IniDocument::read(path)?;
    let label = format!("[{}] {}", args.section, args.key);
    // Asked before anything else, so that a mismatch leaves no trace at all.
    let value = match (&args.value, args.prompt) {
        (_, true) => prompt::read_twice(&label)?,
        (Some(value), false) => Secret::new(value.as_str()),
        (None, false) => bail!("-a needs a VALUE after {label}, or -p to be asked for it"),
    };
    let stored = if args.encrypt {
        seal(path, &doc, &value).with_context(|| format!("cannot encrypt {label}"))?
    } else {
        value.expose().to_string()
    };
    doc.set(&args.section, &args.key, &stored)?;
    doc.write()?;
    let how = if args.encrypt { " (encrypted)" } else { "" };
    println!("{label} set in {}{how}", path.display());
    report_problems(path, &args.section, &args.key);
    Ok(())
}

/// Seals `value` with the key file this ini names, creating it if needed.
fn seal(path: &Path, doc: &IniDocument, value: &Secret) -> anyhow::Result<String> {
    let key_path = secrets::key_file_path(path, doc.get("VMAIL", "key-file"));
    let (key, created) = secrets::load_or_create_key(&key_path)?;
    if created {
        eprintln!(
            "vfxadmin: created the key file {} (mode 0600); keep a copy: without it the encrypted values cannot be read",
            key_path.display()
        );
    }
    Ok(secrets::seal(&key, value.expose())?)
}

/// After a write, shows what the file now says about the key just set
/// (a bad value, a secret stored in clear, an unknown key).
fn report_problems(path: &Path, section: &str, key: &str) {
    let (errors, warnings) = match vmail_config::load(path) {
        Ok(loaded) => (Vec::new(), loaded.warnings),
        Err(problems) => (problems.errors, problems.warnings),
    };
    let about_this = |d: &vmail_config::Diagnostic| {
        d.section
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(section))
            && d.key
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(key))
    };
    let mut stderr = std::io::stderr().lock();
    for d in errors.iter().filter(|d| about_this(d)) {
        let _ = writeln!(stderr, "vfxadmin: error: {d}");
    }
    for d in warnings.iter().filter(|d| about_this(d)) {
        let _ = writeln!(stderr, "vfxadmin: warning: {d}");
    }
}
