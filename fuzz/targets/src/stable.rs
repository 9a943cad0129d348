//! A small mutation fuzzer that needs no nightly compiler and no coverage
//! instrumentation, so that `cargo test` on stable Rust fuzzes every target
//! for a bounded time on every run.
//!
//! It is blind where libFuzzer is guided: it starts from the committed seeds,
//! applies a few random edits (bytes, dictionary tokens, whole lines of
//! other inputs, `key = value` lines, long repeats, multi-byte characters),
//! and keeps inputs the target accepted as further starting points. The
//! random sequence comes from a fixed seed, so a run is repeatable: the same
//! seed and the same number of inputs give the same inputs. A panic stops
//! the run and comes back as a [`Finding`] holding the input.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a run may go: whichever of the two limits comes first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_inputs: u64,
    pub max_time: Duration,
    pub seed: u64,
}

impl Budget {
    /// The default budget of a test run (3 s or 200,000 inputs per target,
    /// seed 0x766d61696c), changed by `VMAIL_FUZZ_SECS`, `VMAIL_FUZZ_INPUTS`
    /// and `VMAIL_FUZZ_SEED`.
    pub fn from_env() -> Budget {
        fn var(name: &str) -> Option<u64> {
            let value = std::env::var(name).ok()?;
            match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => value.parse().ok(),
            }
        }
        Budget {
            max_inputs: var("VMAIL_FUZZ_INPUTS").unwrap_or(200_000),
            max_time: Duration::from_secs(var("VMAIL_FUZZ_SECS").unwrap_or(3)),
            seed: var("VMAIL_FUZZ_SEED").unwrap_or(0x76_6d61_696c),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub inputs: u64,
    pub accepted: u64,
    pub pool: usize,
    pub elapsed: Duration,
}

/// An input on which the target panicked, and the panic's message.
#[derive(Debug, Clone)]
pub struct Finding {
    pub input: Vec<u8>,
    pub message: String,
    /// The number of the input in the run (0 = the first seed).
    pub index: u64,
}

/// The largest input the fuzzer makes (libFuzzer's default `-max_len` is 4096).
const MAX_LEN: usize = 16 * 1024;
/// The most inputs kept as starting points besides the seeds.
const MAX_POOL: usize = 1024;

/// Runs every seed, then mutated inputs until the budget is spent.
pub fn run(
    target: &dyn Fn(&[u8]) -> bool,
    seeds: &[Vec<u8>],
    dictionary: &[Vec<u8>],
    budget: Budget,
) -> Result<Report, Finding> {
    let start = Instant::now();
    let mut rng = Rng::new(budget.seed);
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let mutator = Mutator { dictionary };
    let mut report = Report {
        inputs: 0,
        accepted: 0,
        pool: 0,
        elapsed: Duration::ZERO,
    };
    while report.inputs < budget.max_inputs
        && (report.inputs < seeds.len() as u64 || start.elapsed() < budget.max_time)
    {
        let input = match seeds.get(report.inputs as usize) {
            Some(seed) => seed.clone(),
            None => mutator.mutate(&pool, &mut rng),
        };
        let accepted = call(target, &input).map_err(|Panicked(message)| Finding {
            input: input.clone(),
            message,
            index: report.inputs,
        })?;
        report.inputs += 1;
        if accepted {
            report.accepted += 1;
            if report.inputs > seeds.len() as u64 && !pool.contains(&input) {
                if pool.len() < seeds.len() + MAX_POOL {
                    pool.push(input);
                } else {
                    let at = seeds.len() + rng.below(MAX_POOL);
                    pool[at] = input;
                }
            }
        }
    }
    report.pool = pool.len();
    report.elapsed = start.elapsed();
    Ok(report)
}

/// A target's panic, with its message.
struct Panicked(String);

/// Calls the target, turning a panic into its message.
fn call(target: &dyn Fn(&[u8]) -> bool, input: &[u8]) -> Result<bool, Panicked> {
    panic::catch_unwind(AssertUnwindSafe(|| target(input))).map_err(|payload| {
        Panicked(
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".to_string()),
        )
    })
}

/// xorshift64*: small, fast and good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed: never zero, and nearby seeds differ.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Bytes that change how a line-based text format reads.
const INTERESTING: &[u8] = b"\0\n\r\t =[];#:,<>\"'\\@()%.-_\x7f\x80\xc3\xef\xbb\xbf\xff";
/// Characters of more than one byte, and Unicode's line breaks.
const WIDE: &[&str] = &[
    "é", "\u{feff}", "\u{2028}", "\u{85}", "\u{a0}", "😀", "ß", "İ",
];

struct Mutator<'a> {
    dictionary: &'a [Vec<u8>],
}

impl Mutator<'_> {
    /// A new input: a pool entry with one to four edits.
    fn mutate(&self, pool: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
        let mut data = rng.pick(pool).clone();
        for _ in 0..=rng.below(4) {
            self.edit(&mut data, pool, rng);
        }
        data.truncate(MAX_LEN);
        data
    }

    fn token<'t>(&'t self, rng: &mut Rng) -> &'t [u8] {
        if self.dictionary.is_empty() {
            b"="
        } else {
            rng.pick(self.dictionary).as_slice()
        }
    }

    fn edit(&self, data: &mut Vec<u8>, pool: &[Vec<u8>], rng: &mut Rng) {
        let at = rng.below(data.len() + 1);
        match rng.below(12) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = *rng.pick(INTERESTING);
            }
            2 => data.insert(at, *rng.pick(INTERESTING)),
            3 if !data.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            4 if !data.is_empty() => {
                let from = rng.below(data.len());
                let len = (1 + rng.below(64)).min(data.len() - from);
                let chunk = data[from..from + len].to_vec();
                splice(data, at, &chunk);
            }
            5 => {
                let token = self.token(rng).to_vec();
                splice(data, at, &token);
            }
            6 => {
                let at = line_start(data, rng);
                let mut line = self.token(rng).to_vec();
                line.push(b'\n');
                splice(data, at, &line);
            }
            7 => {
                let other = rng.pick(pool);
                let lines: Vec<&[u8]> = other.split_inclusive(|&b| b == b'\n').collect();
                if !lines.is_empty() {
                    let line = rng.pick(&lines).to_vec();
                    let at = line_start(data, rng);
                    splice(data, at, &line);
                }
            }
            8 => data.truncate(at),
            9 => {
                let mut line = self.token(rng).to_vec();
                line.extend_from_slice(if rng.below(2) == 0 { b" = " } else { b"=" });
                line.extend_from_slice(self.token(rng));
                line.extend_from_slice(if rng.below(4) == 0 { b"\r\n" } else { b"\n" });
                let at = line_start(data, rng);
                splice(data, at, &line);
            }
            10 => {
                let token = self.token(rng).to_vec();
                let times = 1 + rng.below(256);
                let long: Vec<u8> = token
                    .iter()
                    .copied()
                    .cycle()
                    .take(token.len() * times)
                    .collect();
                splice(data, at, &long);
            }
            _ => {
                let wide = rng.pick(WIDE).as_bytes();
                // Sometimes only part of the character: invalid UTF-8.
                let len = if rng.below(4) == 0 { 1 } else { wide.len() };
                splice(data, at, &wide[..len]);
            }
        }
    }
}

fn splice(data: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(data.len());
    data.splice(at..at, bytes.iter().copied());
}

/// The start of a random line of `data` (or its end).
fn line_start(data: &[u8], rng: &mut Rng) -> usize {
    let mut starts: Vec<usize> = vec![0];
    starts.extend(
        data.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    *rng.pick(&starts)
}

/// The files of a folder, sorted by name (an absent folder has none).
pub fn read_dir_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter(|path| {
            !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| std::fs::read(&path).map(|bytes| (path, bytes)))
        .collect()
}

/// A line of a dictionary file that holds no token; lines count from 1.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("dictionary line {line}: not \"token\" or name=\"token\"")]
pub struct BadDictionaryLine {
    pub line: usize,
}

/// The tokens of a libFuzzer dictionary file: one `"token"` (or
/// `name="token"`) per line with `\\`, `\"` and `\xNN` escapes; `#` starts a
/// comment line.
pub fn parse_dictionary(text: &str) -> Result<Vec<Vec<u8>>, BadDictionaryLine> {
    let mut tokens = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || BadDictionaryLine { line: n + 1 };
        let start = line.find('"').ok_or_else(bad)?;
        let quoted = &line[start + 1..];
        let body = quoted.strip_suffix('"').ok_or_else(bad)?;
        tokens.push(unescape(body).ok_or_else(bad)?);
    }
    Ok(tokens)
}

fn unescape(body: &str) -> Option<Vec<u8>> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                match *bytes.get(i + 1)? {
                    b'\\' => out.push(b'\\'),
                    b'"' => out.push(b'"'),
                    b'x' => {
                        let hex = body.get(i + 2..i + 4)?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    _ => return None,
                }
                i += 2;
            }
            b'"' => return None,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_read_like_libfuzzer_reads_them() {
        let text = "# comment\n\"[VMAIL]\"\nkw=\"a\\x3db\"\n\"\\\\\\\"\"\n\n";
        assert_eq!(
            parse_dictionary(text),
            Ok(vec![b"[VMAIL]".to_vec(), b"a=b".to_vec(), b"\\\"".to_vec()])
        );
        assert_eq!(
            parse_dictionary("# c\nno quotes\n"),
            Err(BadDictionaryLine { line: 2 })
        );
        assert!(parse_dictionary("\"\\q\"\n").is_err());
    }

    #[test]
    fn a_run_is_repeatable_and_stops_at_its_budget() {
        let budget = Budget {
            max_inputs: 500,
            max_time: Duration::from_secs(60),
            seed: 7,
        };
        let seen = std::cell::RefCell::new(Vec::new());
        let target = |data: &[u8]| {
            seen.borrow_mut().push(data.to_vec());
            data.contains(&b'=')
        };
        let seeds = vec![b"a = b\n".to_vec(), b"[s]\n".to_vec()];
        let dict = vec![b"key".to_vec()];
        let first = run(&target, &seeds, &dict, budget).map_err(|f| f.message);
        let once = seen.take();
        let second = run(&target, &seeds, &dict, budget).map_err(|f| f.message);
        assert_eq!(first.map(|r| r.inputs), Ok(500));
        assert_eq!(second.map(|r| r.inputs), Ok(500));
        assert_eq!(once, seen.take(), "the same seed gave other inputs");
        assert_eq!(&once[..2], &seeds[..]);
    }

    #[test]
    fn a_panic_comes_back_with_its_input() {
        let budget = Budget {
            max_inputs: 100_000,
            max_time: Duration::from_secs(60),
            seed: 1,
        };
        let target = |data: &[u8]| {
            assert!(!data.windows(2).any(|w| w == b"=="), "two equals signs");
            true
        };
        let finding = run(&target, &[b"a = b\n".to_vec()], &[b"=".to_vec()], budget)
            .expect_err("the fuzzer should find ==");
        assert!(finding.input.windows(2).any(|w| w == b"=="));
        assert_eq!(finding.message, "two equals signs");
    }
}
