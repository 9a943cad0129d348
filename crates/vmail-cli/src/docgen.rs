//! `vmail-docgen OUT_DIR`: writes the man pages (`OUT_DIR/man/NAME.1`, and
//! one page per subcommand such as `vfxadmin-queue.1`; `vmaild.8`) and the
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
    write_page(dir, &name, command.clone(), &mut written)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let full = format!("{name}-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(full.clone())
            .version(command.get_version().unwrap_or_default().to_string());
        write_page(dir, &full, sub, &mut written)?;
    }
    Ok(written)
}

fn write_page(
    dir: &Path,
    name: &str,
    command: Command,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let section = section(name);
    let path = dir.join(format!("{name}.{section}"));
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command)
        .section(section)
        .render(&mut buffer)
        .with_context(|| format!("cannot render the man page {name}.{section}"))?;
    fs::write(&path, buffer).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    Ok(())
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
