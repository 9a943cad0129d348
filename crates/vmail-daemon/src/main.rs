//! `vmaild`: the vmail relay daemon. Parses the command line, then hands
//! over to the library; errors are printed with their full context.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use vmail_daemon::scheduler::Mode;

/// sysexits(3) codes, which service managers and scripts understand.
const EX_TEMPFAIL: u8 = 75;
const EX_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "vmaild",
    version,
    about = "vmail relay daemon: delivers spooled jobs over SMTP"
)]
struct Args {
    /// The vsisrv.ini to read (default: $VSIFAX/lib/vsisrv.ini, else /etc/vmail/vsisrv.ini).
    #[arg(
        short = 'c',
        long = "config",
        visible_short_alias = 'C',
        value_name = "PATH"
    )]
    config: Option<PathBuf>,
    /// Check the configuration, print every error and warning, and exit.
    #[arg(long)]
    check_config: bool,
    /// Deliver every job that is due, then exit (75 when jobs remain queued).
    #[arg(long)]
    once: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let path = vmail_config::config_path(args.config.as_deref());
    let config = match vmail_daemon::load_config(&path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("vmaild: {err}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    if args.check_config {
        println!("{}: configuration OK", path.display());
        return ExitCode::SUCCESS;
    }
    let mode = if args.once { Mode::Once } else { Mode::Daemon };
    match run(config, mode) {
        Ok(remaining) if args.once && remaining > 0 => {
            eprintln!("vmaild: {remaining} job(s) remain queued");
            ExitCode::from(EX_TEMPFAIL)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("vmaild: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: vmail_config::Config, mode: Mode) -> anyhow::Result<usize> {
    // Disk work runs on blocking threads; tokio's default ceiling is 512,
    // and a burst of spool events could grow the pool (and its memory) far
    // past what two disks' worth of work can use. Sixteen keeps every session
    // reading its body while pickup and settling run.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .thread_name("vmaild")
        .build()
        .context("cannot start the async runtime")?;
    let exit = runtime.block_on(vmail_daemon::run(config, mode))?;
    Ok(exit.remaining)
}
