//! `vfxadmin quarantine`: the files pickup set aside in `quarantine/`, each
//! with the reason it wrote: list them, show one, put one back into `in/`
//! (after fixing it) for pickup to take again, or delete one.

use crate::queue_cmd::span;
use crate::setup;
use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;
use vmail_spool::{Quarantined, Spool, format_time};

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    pub action: QuarantineAction,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// List the quarantined files: name, age, size, why
    List {
        /// Print JSON (an array of files) instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Show one file: why it was set aside, its owner and mode, its start
    Show {
        /// The file's name, as `vfxadmin quarantine list` shows it
        name: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Put a (fixed) .eml or .job file back into in/ under a fresh name, for
    /// pickup to take again; its reason goes into the new job's log
    Requeue {
        /// The file's name, as `vfxadmin quarantine list` shows it
        name: String,
    },
    /// Delete a quarantined file and its reason
    Delete {
        /// The file's name, as `vfxadmin quarantine list` shows it
        name: String,
    },
}

pub fn run(config_path: &Path, args: &QuarantineArgs) -> anyhow::Result<ExitCode> {
    let config = setup::load_config(Some(config_path))?;
    let spool = setup::open_spool(&config)?;
    match &args.action {
        QuarantineAction::List { json } => list(&spool, *json),
        QuarantineAction::Show { name, json } => show(&spool, name, *json),
        QuarantineAction::Requeue { name } => {
            let back = spool
                .requeue_quarantined(name)
                .map_err(|e| anyhow!("{e}"))?;
            let fresh = back.file_name().map_or_else(
                || back.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            println!(
                "{name}: back in in/ as {fresh}; its reason goes into the new job's log (vmaild picks it up now)"
            );
            Ok(ExitCode::SUCCESS)
        }
        QuarantineAction::Delete { name } => {
            spool.delete_quarantined(name).map_err(|e| anyhow!("{e}"))?;
            println!("{name}: deleted, with its reason");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(spool: &Spool, as_json: bool) -> anyhow::Result<ExitCode> {
    let files = spool.quarantined().map_err(|e| anyhow!("{e}"))?;
    let now = SystemTime::now();
    if as_json {
        let all: Vec<Value> = files.iter().map(file_json).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    if files.is_empty() {
        println!("The quarantine of {} is empty.", spool.root().display());
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 4]> = files
        .iter()
        .map(|f| {
            [
                f.name.clone(),
                span(now.duration_since(f.since).unwrap_or_default()),
                f.size.to_string(),
                why(f),
            ]
        })
        .collect();
    print!("{}", table(&rows));
    println!("{} file(s)", files.len());
    Ok(ExitCode::SUCCESS)
}

/// The reason without the path pickup put in front of it (the name is in
/// its own column), or a word when there is none.
fn why(file: &Quarantined) -> String {
    match &file.reason {
        Some(reason) => {
            let first = reason.lines().next().unwrap_or_default();
            let name = format!("{}: ", file.name);
            match first.find(&name) {
                Some(at) => first[at + name.len()..].to_string(),
                None => first.to_string(),
            }
        }
        None => "(no .reason kept)".to_string(),
    }
}

fn table(rows: &[[String; 4]]) -> String {
    let header = ["NAME", "AGE", "SIZE", "WHY"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| match i {
                3 => cell.clone(),
                2 => format!("{cell:>w$}"),
                _ => format!("{cell:<w$}"),
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn file_json(file: &Quarantined) -> Value {
    json!({
        "name": file.name,
        "path": file.path.display().to_string(),
        "size": file.size,
        "uid": file.uid,
        "gid": file.gid,
        "mode": format!("{:04o}", file.mode),
        "since": format_time(file.since),
        "reason": file.reason,
    })
}

/// At most this much of the file is shown.
const PREVIEW: u64 = 2048;

fn show(spool: &Spool, name: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let file = spool.quarantined_file(name).map_err(|e| anyhow!("{e}"))?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&file_json(&file))?);
        return Ok(ExitCode::SUCCESS);
    }
    let owner = vmail_spool::user_name(file.uid).unwrap_or_else(|| "?".to_string());
    let mut out = format!(
        "File:        {}\nPath:        {}\nSize:        {} bytes\nOwner:       {owner} (uid {}), gid {}, mode {:04o}\nSince:       {}\nWhy:         {}\n",
        file.name,
        file.path.display(),
        file.size,
        file.uid,
        file.gid,
        file.mode,
        format_time(file.since),
        file.reason.as_deref().unwrap_or("(no .reason kept)"),
    );
    out.push_str(&preview(&file.path));
    out.push_str(&format!(
        "\nFix the file, then `vfxadmin quarantine requeue {}`; or `vfxadmin quarantine delete {}`.\n",
        file.name, file.name
    ));
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// The start of the file when it is text, else a word saying why not.
fn preview(path: &Path) -> String {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(PREVIEW).read_to_end(&mut bytes));
    match read {
        Err(e) => format!("\nContent:     cannot be read: {e}\n"),
        Ok(_) if bytes.contains(&0) => "\nContent:     binary (NUL bytes), not shown\n".to_string(),
        Ok(n) => {
            let text = String::from_utf8_lossy(&bytes);
            let more = if n as u64 == PREVIEW { "...\n" } else { "" };
            let mut shown = String::new();
            for line in text.lines() {
                shown.push_str("  ");
                shown.push_str(line);
                shown.push('\n');
            }
            format!("\nContent (first {PREVIEW} bytes at most):\n{shown}{more}")
        }
    }
}
