//! Opens a session the way `vfxadmin check` will (greeting, EHLO, TLS,
//! AUTH) and prints the redacted transcript and the certificate.
//!
//! `VMAIL_PASSWORD=... cargo run -p vmail-smtp --example check -- HOST PORT TLS [CA-FILE [USER]]`
//! where TLS is none, opportunistic, starttls or implicit.

use vmail_core::{AuthType, Secret, SmtpSettings, TlsMode};
use vmail_smtp::Submitter;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(host), Some(port), Some(tls)) = (
        args.get(1),
        args.get(2).and_then(|p| p.parse::<u16>().ok()),
        args.get(3).and_then(|t| TlsMode::parse(t)),
    ) else {
        eprintln!("usage: check HOST PORT TLS [CA-FILE [USER]] (password in VMAIL_PASSWORD)");
        std::process::exit(2);
    };
    let mut settings = SmtpSettings::plain(host.as_str(), port);
    settings.tls = tls;
    settings.ca_file = args.get(4).map(Into::into);
    if let (Some(user), Ok(password)) = (args.get(5), std::env::var("VMAIL_PASSWORD")) {
        settings.auth_type = AuthType::Auto;
        settings.auth_responses = vec![Secret::new(user.as_str()), Secret::new(password)];
    }
    match Submitter::new(settings).connect().await {
        Ok(session) => {
            println!("extensions: {:?}", session.extensions());
            println!("tls: {:?}", session.tls());
            println!("logged in with: {:?}", session.authenticated());
            print!("{}", session.quit().await);
        }
        Err(failure) => {
            print!("{}", failure.transcript);
            println!("error: {}", failure.error);
        }
    }
}
