//! `vmail-docgen OUT_DIR`: writes the man pages (`OUT_DIR/man/NAME.1`, and
//! one page per subcommand at every depth such as `vfxadmin-queue.1` and
//! `vfxadmin-queue-list.1`; `vmaild.8`) and the
//! shell completions (`OUT_DIR/completions/{bash,zsh,fish}/...`) of vfx,
//! vfxadmin, vmail-sendmail and vmaild, from their clap definitions, for
//! the packaging to install.

use anyhow::Context;
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The commands documented: their clap definitions.
pub fn commands() -> Vec<Command> {
    vec![
        crate::vfx::Cli::command(),
        crate::vfxadmin::Cli::command(),
        crate::sendmail::Cli::command(),
        vmail_daemon::cli::Args::command(),
    ]
}

/// The manual section of a command: 8 for the daemon an administrator
/// runs, 1 for the tools.
fn section(name: &str) -> &'static str {
    if name == "vmaild" { "8" } else { "1" }
}

/// Writes everything under `out`; returns the files written.
pub fn generate(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for command in commands() {
        written.extend(man_pages(&out.join("man"), command.clone())?);
        written.extend(completions(&out.join("completions"), command)?);
    }
    Ok(written)
}

fn man_pages(dir: &Path, command: Command) -> anyhow::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let name = command.get_name().to_string();
    let version = command.get_version().unwrap_or_default().to_string();
    pages(dir, &name, &version, without_help(command), &mut written)?;
    Ok(written)
}

/// The page of `command` and, one page each, of its subcommands at every
/// depth (`vfxadmin-queue-list.1`): a page's SEE ALSO-style list of
/// subcommands names `vfxadmin-queue-list(1)`, so that page must exist.
fn pages(
    dir: &Path,
    name: &str,
    version: &str,
    command: Command,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    write_page(dir, name, command.clone(), written)?;
    for sub in command.get_subcommands() {
        let full = format!("{name}-{}", sub.get_name());
        let sub = sub.clone().name(full.clone()).version(version.to_string());
        pages(dir, &full, version, sub, written)?;
    }
    Ok(())
}

/// `command` without clap's `help` subcommand, at every depth: in a man
/// page it would name a page `vfxadmin-help(1)` that nobody writes
/// (`--help` and `man` do that job).
fn without_help(command: Command) -> Command {
    let mut command = command.disable_help_subcommand(true);
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, without_help);
    }
    command
}

fn write_page(
    dir: &Path,
    name: &str,
    command: Command,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let section = section(name);
    let path = dir.join(format!("{name}.{section}"));
    let repeated = repeated_positionals(&command);
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command)
        .section(section)
        .render(&mut buffer)
        .with_context(|| format!("cannot render the man page {name}.{section}"))?;
    let page = mark_repeated(&String::from_utf8_lossy(&buffer), &repeated);
    fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    Ok(())
}

/// The value names of positional arguments that take a list (`FILE` of
/// vfx): clap_mangen writes them as `[FILE]`, a single file.
fn repeated_positionals(command: &Command) -> Vec<String> {
    command
        .get_positionals()
        .filter(|arg| {
            arg.get_num_args()
                .is_some_and(|range| range.max_values() > 1)
                || matches!(arg.get_action(), clap::ArgAction::Append)
        })
        .map(|arg| {
            arg.get_value_names()
                .and_then(|names| names.first())
                .map_or_else(|| arg.get_id().to_string(), |name| name.to_string())
        })
        .collect()
}

/// `[\fIFILE\fR]` -> `[\fIFILE\fR]...` in the synopsis and in the
/// argument's own entry, as `--help` writes it: the reader sees a list.
fn mark_repeated(page: &str, repeated: &[String]) -> String {
    let mut out = String::with_capacity(page.len() + 16);
    let mut in_synopsis = false;
    for line in page.lines() {
        if line.starts_with(".SH ") {
            in_synopsis = line == ".SH SYNOPSIS";
        }
        let mut line = line.to_string();
        for name in repeated {
            let single = format!("[\\fI{name}\\fR]");
            let list = format!("{single}...");
            if line == single {
                line = list;
            } else if in_synopsis && !line.contains(&list) {
                line = line.replace(&single, &list);
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn completions(dir: &Path, mut command: Command) -> anyhow::Result<Vec<PathBuf>> {
    let name = command.get_name().to_string();
    let mut written = Vec::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let shell_dir = dir.join(shell.to_string());
        fs::create_dir_all(&shell_dir)
            .with_context(|| format!("cannot create {}", shell_dir.display()))?;
        let path = clap_complete::generate_to(shell, &mut command, &name, &shell_dir)
            .with_context(|| format!("cannot write the {shell} completion of {name}"))?;
        written.push(path);
    }
    Ok(written)
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: vmail-docgen OUT_DIR   (writes OUT_DIR/man and OUT_DIR/completions)");
        return ExitCode::from(64);
    };
    match generate(Path::new(out)) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vmail-docgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}
