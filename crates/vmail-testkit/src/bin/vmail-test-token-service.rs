//! The OAuth2 token service of `tests/servers/start.sh`, which Dovecot asks
//! to introspect tokens (see `vmail_testkit::oauth`).
//!
//! ```text
//! vmail-test-token-service --listen 127.0.0.1:PORT --cert PEM --key PEM --ca PEM --ready-file PATH
//! ```
//! Serves HTTPS with the given certificate; once listening, writes its URL
//! into the ready file (atomically), which start.sh waits for. Runs until
//! killed (stop.sh sends TERM by PID); it keeps nothing on disk.
#![forbid(unsafe_code)]

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use vmail_testkit::oauth::{ServiceOptions, TlsSetup, TokenService};

/// The flags start.sh passes; clap refuses anything else with exit code 2.
#[derive(Parser)]
#[command(name = "vmail-test-token-service")]
struct Args {
    /// The loopback address and port to serve HTTPS on
    #[arg(long)]
    listen: SocketAddr,
    /// The server certificate (PEM)
    #[arg(long)]
    cert: PathBuf,
    /// Its private key (PEM)
    #[arg(long)]
    key: PathBuf,
    /// The CA that signed the certificate (PEM)
    #[arg(long)]
    ca: PathBuf,
    /// Where to write the service's URL once it listens
    #[arg(long)]
    ready_file: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = ServiceOptions {
        listen: args.listen,
        tls: TlsSetup::Files {
            cert: args.cert,
            key: args.key,
            ca: args.ca,
        },
        log_requests: true,
    };
    let service = match TokenService::start_with(options) {
        Ok(service) => service,
        Err(e) => {
            eprintln!("vmail-test-token-service: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tmp = args.ready_file.with_extension("tmp");
    let written = std::fs::write(&tmp, format!("{}\n", service.url()))
        .and_then(|()| std::fs::rename(&tmp, &args.ready_file));
    if let Err(e) = written {
        eprintln!(
            "vmail-test-token-service: {}: {e}",
            args.ready_file.display()
        );
        return ExitCode::FAILURE;
    }
    eprintln!("vmail-test-token-service: listening on {}", service.url());
    // The service runs on its own thread until the process is killed.
    loop {
        std::thread::park();
    }
}
