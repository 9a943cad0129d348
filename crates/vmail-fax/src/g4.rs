//! A Group 4 (T.6) encoder that codes a row from its colour changes, the
//! form every decoder gives rows in. The `fax` crate's encoder takes a row
//! pixel by pixel, which made re-encoding a fine page cost ~20 ms; its code
//! tables (`fax::maps`) and bit writer are used here as they are.

use fax::maps::{EDFB_HALF, Mode, black, mode, white};
use fax::{BitWriter, Bits, VecWriter};

/// Encodes rows given as colour changes (white at the left edge; each
/// change flips the colour, every one below the width, ascending).
pub(crate) struct Group4Encoder {
    writer: VecWriter,
    width: u32,
    reference: Vec<u32>,
}

/// A code the tables lack: cannot happen for the modes and runs below.
#[derive(Debug)]
pub(crate) struct NoCode;

fn put(writer: &mut VecWriter, bits: Option<Bits>) -> Result<(), NoCode> {
    let bits = bits.ok_or(NoCode)?;
    match writer.write(bits) {
        Ok(()) => Ok(()),
        Err(never) => match never {},
    }
}

/// A run of `n` pixels of one colour: make-up codes, then a terminating one.
fn run(writer: &mut VecWriter, black_run: bool, mut n: u32) -> Result<(), NoCode> {
    let code = |n: u32| {
        let n = u16::try_from(n).ok()?;
        if black_run {
            black::encode(n)
        } else {
            white::encode(n)
        }
    };
    while n >= 2560 {
        put(writer, code(2560))?;
        n -= 2560;
    }
    if n >= 64 {
        put(writer, code(n & !63))?;
        n &= 63;
    }
    put(writer, code(n))
}

impl Group4Encoder {
    pub fn new(width: u32) -> Self {
        Group4Encoder {
            writer: VecWriter::new(),
            width,
            reference: Vec::new(),
        }
    }

    /// Codes one row (T.6 section 2.2: pass, vertical and horizontal modes
    /// against the row above).
    pub fn row(&mut self, changes: &[u32]) -> Result<(), NoCode> {
        let width = self.width;
        let at = |list: &[u32], i: usize| list.get(i).copied().unwrap_or(width);
        // a0 starts before the row (an imaginary white pixel); `None`.
        let mut a0: Option<u32> = None;
        let mut black_now = false;
        // Index of the first change in the coding row after a0, and in the
        // reference row the first not yet passed.
        let mut a = 0usize;
        let mut b = 0usize;
        let reference = std::mem::take(&mut self.reference);
        loop {
            let after = |p: u32| a0.is_none_or(|a0| p > a0);
            while a < changes.len() && !after(changes[a]) {
                a += 1;
            }
            let a1 = at(changes, a);
            // b1: the first change in the reference row after a0 to the
            // colour opposite a0's: changes at even indices turn black.
            while b < reference.len() && (!after(reference[b]) || (b % 2 == 1) != black_now) {
                b += 1;
            }
            let b1 = at(&reference, b);
            let b2 = at(&reference, b + 1);
            if b2 < a1 {
                put(&mut self.writer, mode::encode(Mode::Pass))?;
                a0 = Some(b2);
                b += 2;
            } else if a1.abs_diff(b1) <= 3 {
                let delta = a1 as i64 - b1 as i64;
                put(&mut self.writer, mode::encode(Mode::Vertical(delta as i8)))?;
                a0 = Some(a1);
                black_now = !black_now;
                // b1 may lie left of the new a0 (or equal it): find again.
                b = b.saturating_sub(2);
                a += 1;
            } else {
                let a2 = at(changes, a + 1);
                put(&mut self.writer, mode::encode(Mode::Horizontal))?;
                let start = a0.unwrap_or(0);
                run(&mut self.writer, black_now, a1 - start)?;
                run(&mut self.writer, !black_now, a2 - a1)?;
                a0 = Some(a2);
                a += 2;
            }
            if a0.is_some_and(|a0| a0 >= width) {
                break;
            }
        }
        self.reference = reference;
        self.reference.clear();
        self.reference.extend_from_slice(changes);
        Ok(())
    }

    /// The data, ended with EOFB.
    pub fn finish(mut self) -> Result<Vec<u8>, NoCode> {
        put(&mut self.writer, Some(EDFB_HALF))?;
        put(&mut self.writer, Some(EDFB_HALF))?;
        Ok(self.writer.finish())
    }
}
