//! `vfxadmin config`: print one key of vsisrv.ini, or add/replace it,
//! optionally prompting for the value and sealing it.
//!
//! ```text
//! vfxadmin config SECTION KEY                 print the value (<encrypted> when sealed)
//! vfxadmin config -a SECTION KEY VALUE        add or replace
//! vfxadmin config -a -p [-e] SECTION KEY      prompt twice without echo [and seal]
//! vfxadmin config -a -e SECTION KEY VALUE     seal VALUE
//! ```
//!
//! A change is validated before it is written: when the file as it would
//! be has an error it did not have before, nothing is written and the exit
//! status is 1 (`--force` writes anyway). Errors already in the file are
//! shown and do not block a change.

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
are read as two lines from standard input.

The file is checked as it would be after the change: a value that would
make it fail to load (mail-port banana) is refused and nothing is written;
--force writes it anyway.")]
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

    /// Write the value even when the file would then fail to load (with -a)
    #[arg(long = "force", requires = "add")]
    pub force: bool,

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
        set(path, args)
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

fn set(path: &Path, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let mut doc = IniDocument::read(path)?;
    let label = format!("[{}] {}", args.section, args.key);
    // Asked before anything else, so that a mismatch leaves no trace at all.
    let value = new_value(args, &label)?;
    let stored = if args.encrypt {
        seal(path, &doc, &value).with_context(|| format!("cannot encrypt {label}"))?
    } else {
        value.expose().to_string()
    };
    let (before, _) = diagnostics_of(path, &doc.to_text());
    doc.set(&args.section, &args.key, &stored)?;
    let (errors, warnings) = diagnostics_of(path, &doc.to_text());
    let (added, present) = split_new(errors, before);
    let mut stderr = std::io::stderr().lock();
    print_errors(&mut stderr, &added, &present);
    if !added.is_empty() && !args.force {
        let _ = writeln!(
            stderr,
            "vfxadmin: nothing written: with this {label} {} would not load, so vmaild \
             would not start or reload; correct the value, or write it anyway with --force",
            path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    doc.write()?;
    let how = if args.encrypt { " (encrypted)" } else { "" };
    println!("{label} set in {}{how}", path.display());
    if !added.is_empty() {
        let _ = writeln!(
            stderr,
            "vfxadmin: written anyway (--force): vmaild will not start or reload until the \
             error is corrected"
        );
    }
    for d in warnings.iter().filter(|d| is_about_key(d, args)) {
        let _ = writeln!(stderr, "vfxadmin: warning: {d}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The value from the command line, or asked for twice without echo so
/// that a secret never reaches the shell's history.
fn new_value(args: &ConfigArgs, label: &str) -> anyhow::Result<Secret> {
    Ok(match (&args.value, args.prompt) {
        (_, true) => prompt::read_twice(label)?,
        (Some(value), false) => Secret::new(value.as_str()),
        (None, false) => bail!("-a needs a VALUE after {label}, or -p to be asked for it"),
    })
}

/// The errors and warnings of the file as `text`, read the way vmaild
/// would load it, so that a change is judged by what the daemon would do.
fn diagnostics_of(
    path: &Path,
    text: &str,
) -> (Vec<vmail_config::Diagnostic>, Vec<vmail_config::Diagnostic>) {
    match vmail_config::load_str(path, text) {
        Ok(loaded) => (Vec::new(), loaded.warnings),
        Err(problems) => (problems.errors, problems.warnings),
    }
}

/// Errors the file had before are named as such: the change did not cause
/// them and does not wait for them to be fixed.
fn print_errors(
    stderr: &mut impl Write,
    added: &[vmail_config::Diagnostic],
    present: &[vmail_config::Diagnostic],
) {
    for d in present {
        let _ = writeln!(
            stderr,
            "vfxadmin: error (in the file before this change too): {d}"
        );
    }
    for d in added {
        let _ = writeln!(stderr, "vfxadmin: error: {d}");
    }
}

/// Only the changed key's warnings are shown: the others were there
/// before and are not this change's business.
fn is_about_key(d: &vmail_config::Diagnostic, args: &ConfigArgs) -> bool {
    d.section
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case(&args.section))
        && d.key
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case(&args.key))
}

/// The errors after a change, split into those it added and those that
/// were there before. An error is the same when its section, key and text
/// are (its line may have moved by the change's own line).
fn split_new(
    after: Vec<vmail_config::Diagnostic>,
    mut before: Vec<vmail_config::Diagnostic>,
) -> (Vec<vmail_config::Diagnostic>, Vec<vmail_config::Diagnostic>) {
    let mut added = Vec::new();
    let mut present = Vec::new();
    for d in after {
        let same = before
            .iter()
            .position(|b| b.section == d.section && b.key == d.key && b.message == d.message);
        match same {
            Some(i) => {
                before.swap_remove(i);
                present.push(d);
            }
            None => added.push(d),
        }
    }
    (added, present)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to `[vmail] AUTH-RSP` shows the warnings vmail files under
    /// `[VMAIL] auth-rsp`, and no others.
    #[test]
    fn the_changed_keys_warnings_match_in_any_case() {
        let args = ConfigArgs {
            add: true,
            prompt: false,
            encrypt: false,
            force: false,
            section: "vmail".into(),
            key: "AUTH-RSP".into(),
            value: Some("user:password".into()),
        };
        let warning = |section: Option<&str>, key: Option<&str>| vmail_config::Diagnostic {
            path: "vsisrv.ini".into(),
            line: Some(9),
            section: section.map(String::from),
            key: key.map(String::from),
            message: "is stored in clear".into(),
        };
        assert!(is_about_key(
            &warning(Some("VMAIL"), Some("auth-rsp")),
            &args
        ));
        assert!(!is_about_key(
            &warning(Some("VMAIL"), Some("auth-type")),
            &args
        ));
        assert!(!is_about_key(
            &warning(Some("VFXSCHED"), Some("auth-rsp")),
            &args
        ));
        assert!(!is_about_key(&warning(None, None), &args));
    }
}
