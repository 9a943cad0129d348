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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use vmail_testkit::oauth::{ServiceOptions, TlsSetup, TokenService};

struct Args {
    listen: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    ready_file: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let (mut cert, mut key, mut ca, mut ready_file) = (None, None, None, None);
    let mut args = std::env::args_os().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{} needs a value", flag.to_string_lossy()))?;
        match flag.to_str() {
            Some("--listen") => {
                let text = value.to_string_lossy();
                listen = Some(text.parse().map_err(|e| format!("--listen {text}: {e}"))?);
            }
            Some("--cert") => cert = Some(PathBuf::from(value)),
            Some("--key") => key = Some(PathBuf::from(value)),
            Some("--ca") => ca = Some(PathBuf::from(value)),
            Some("--ready-file") => ready_file = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {}", flag.to_string_lossy())),
        }
    }
    let missing = |name: &str| format!("{name} is required");
    Ok(Args {
        listen: listen.ok_or_else(|| missing("--listen"))?,
        cert: cert.ok_or_else(|| missing("--cert"))?,
        key: key.ok_or_else(|| missing("--key"))?,
        ca: ca.ok_or_else(|| missing("--ca"))?,
        ready_file: ready_file.ok_or_else(|| missing("--ready-file"))?,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("vmail-test-token-service: {e}");
            return ExitCode::from(2);
        }
    };
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
