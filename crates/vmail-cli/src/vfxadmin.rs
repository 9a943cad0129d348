//! `vfxadmin [-c PATH] COMMAND ...`: the administrator's tool.
//!
//! Add a command by adding a variant to [`Command`] with its own module for
//! the arguments and the logic, and an arm in [`run`].

use crate::check::{self, CheckArgs};
use crate::config_cmd::{self, ConfigArgs};
use crate::oauth_cmd::{self, OAuthArgs};
use crate::quarantine_cmd::{self, QuarantineArgs};
use crate::queue_cmd::{self, QueueArgs};
use crate::status_cmd::{self, StatusArgs};
use crate::template_cmd::{self, TemplateArgs};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "vfxadmin",
    version,
    about = "Administer vmail, the VSI-FAX mail relay"
)]
pub struct Cli {
    /// The configuration file [default: $VSIFAX/lib/vsisrv.ini, else /etc/vmail/vsisrv.ini]
    #[arg(short = 'c', long = "config", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print or set a key of vsisrv.ini, keeping its comments
    Config(ConfigArgs),
    /// List, show, retry, hold, release or delete queued jobs
    Queue(QueueArgs),
    /// Whether vmaild runs (pid, uptime), its relay, the queue, the last
    /// delivery and error per mail server, and the log to read next
    Status(StatusArgs),
    /// List, show, requeue or delete files pickup set aside in quarantine/
    Quarantine(QuarantineArgs),
    /// Connect to the mail server, show the transcript and certificate, and
    /// say in plain words whether sending would work
    Check(CheckArgs),
    /// OAuth2 tokens for XOAUTH2/OAUTHBEARER: log in a mailbox, show the
    /// token's state, forget the tokens
    #[command(name = "oauth")]
    OAuth(OAuthArgs),
    /// Render a notification template of .job drops with sample fields,
    /// or list the templates
    Template(TemplateArgs),
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let path = vmail_config::config_path(cli.config.as_deref());
    match &cli.command {
        Command::Config(args) => config_cmd::run(&path, args),
        Command::Queue(args) => queue_cmd::run(Some(&path), args),
        Command::Status(args) => status_cmd::run(Some(&path), args),
        Command::Quarantine(args) => quarantine_cmd::run(&path, args),
        Command::Check(args) => check::run(&path, args),
        Command::OAuth(args) => oauth_cmd::run(&path, args),
        Command::Template(args) => template_cmd::run(&path, args),
    }
}

/// Parses the process's arguments, runs them, and prints an error as
/// `vfxadmin: what failed: why`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vfxadmin: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn short_flags_combine_and_config_is_global() {
        let cli = Cli::try_parse_from([
            "vfxadmin", "config", "-ape", "VMAIL", "auth-rsp", "-c", "/x.ini",
        ])
        .unwrap();
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("/x.ini")));
        let Command::Config(args) = cli.command else {
            panic!("not parsed as config");
        };
        assert!(args.add && args.prompt && args.encrypt);
        assert_eq!(
            (args.section.as_str(), args.key.as_str()),
            ("VMAIL", "auth-rsp")
        );
        assert!(Cli::try_parse_from(["vfxadmin", "config", "-p", "VMAIL", "auth-rsp"]).is_err());
        assert!(
            Cli::try_parse_from(["vfxadmin", "config", "-a", "-p", "VMAIL", "k", "v"]).is_err()
        );
    }

    #[test]
    fn oauth_status_takes_json() {
        let cli = Cli::try_parse_from(["vfxadmin", "oauth", "status", "--json"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::OAuth(OAuthArgs {
                action: crate::oauth_cmd::OAuthAction::Status { json: true }
            })
        ));
        assert!(Cli::try_parse_from(["vfxadmin", "oauth", "login", "--json"]).is_err());
    }
}
