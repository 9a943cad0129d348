//! What making a message 7-bit costs, against peers measured in the same
//! run: the 8-bit scan (done before every MAIL FROM) against a plain byte
//! sum over the same bytes, and `downgrade::to_7bit` of a whole message
//! against `quoted_printable::encode` of its body alone.
//!
//! `cargo run --release -p vmail-message --example downgrade_bench -- [MB] [ROUNDS]`

use std::hint::black_box;
use std::time::Instant;
use vmail_message::downgrade;

fn best_of(rounds: usize, mut run: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let line = "Sehr geehrte Frau Weiß, anbei das Fax über 3 Seiten; Größe 12 € – Grüße\r\n";
    let body = line.repeat(mb * 1_048_576 / line.len());
    let message = format!(
        "From: Jörg <fax@example.com>\r\nTo: a@example.com\r\nSubject: Grüße\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}"
    );
    let bytes = message.as_bytes();
    // The scan's worst case: 7-bit bytes all the way (an 8-bit byte ends it).
    let ascii =
        "a plain ascii line of a fax notification, nothing 8-bit\r\n".repeat(mb * 1_048_576 / 58);
    let scan = best_of(rounds, || {
        black_box(downgrade::has_8bit(black_box(ascii.as_bytes())));
    });
    let sum = best_of(rounds, || {
        black_box(
            black_box(ascii.as_bytes())
                .iter()
                .map(|&b| u64::from(b))
                .sum::<u64>(),
        );
    });
    let down = best_of(rounds, || {
        black_box(downgrade::to_7bit(black_box(bytes)));
    });
    let qp = best_of(rounds, || {
        black_box(quoted_printable::encode(black_box(body.as_bytes())));
    });
    let mbs = |len: usize, secs: f64| len as f64 / 1_048_576.0 / secs;
    println!(
        "8-bit scan of {:.1} MB of ASCII: {:.2} ms ({:.0} MB/s); peer byte sum {:.2} ms ({:.0} MB/s); ratio {:.2}",
        ascii.len() as f64 / 1_048_576.0,
        scan * 1e3,
        mbs(ascii.len(), scan),
        sum * 1e3,
        mbs(ascii.len(), sum),
        scan / sum
    );
    println!(
        "to_7bit of a {:.1} MB 8-bit message: {:.2} ms ({:.0} MB/s); peer quoted_printable::encode of its body {:.2} ms ({:.0} MB/s); ratio {:.2}",
        bytes.len() as f64 / 1_048_576.0,
        down * 1e3,
        mbs(bytes.len(), down),
        qp * 1e3,
        mbs(body.len(), qp),
        down / qp
    );
}
