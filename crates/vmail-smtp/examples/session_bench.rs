//! Sends N messages over one session to a server and prints the time per
//! message and the first lines of the transcript.
//!
//! `cargo run -p vmail-smtp --example session_bench -- HOST PORT N [SIZE]`
//! (against the private Postfix: its `smtp_plain_port` from servers.env).

use std::time::Instant;
use vmail_core::{Envelope, SmtpSettings};
use vmail_smtp::{Body, Outgoing, Submitter};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(host), Some(port), Some(count)) = (
        args.get(1),
        args.get(2).and_then(|p| p.parse::<u16>().ok()),
        args.get(3).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: session_bench HOST PORT N [SIZE]");
        std::process::exit(2);
    };
    let size: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let body = format!(
        "Subject: bench\r\nMessage-ID: <bench@x>\r\n\r\n{}\r\n",
        "line of text\r\n".repeat(size / 14)
    );
    let messages = (0..count)
        .map(|_| {
            Outgoing::new(
                Envelope::new("bench@example.test", vec!["jms1@jms1.net".to_string()]),
                Body::Bytes(body.clone().into_bytes()),
            )
        })
        .collect();
    let submitter = Submitter::new(SmtpSettings::plain(host.as_str(), port));
    let started = Instant::now();
    let report = submitter.send(messages).await;
    let elapsed = started.elapsed();
    let delivered = report
        .messages
        .iter()
        .filter(|m| m.outcome.is_delivered())
        .count();
    println!(
        "{delivered}/{count} delivered in {elapsed:?} ({:.2} ms per message, {} bytes each)",
        elapsed.as_secs_f64() * 1000.0 / count as f64,
        body.len()
    );
    for line in report.transcript.lines().iter().take(16) {
        println!("{line}");
    }
}
