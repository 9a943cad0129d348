//! A page's pixels as a PDF image: the TIFF's own CCITT data when it can go
//! into the PDF as it is, or the page decoded and re-encoded as Group 4.

use hayro_ccitt::{DecodeSettings, DecoderContext, EncodingMode};

use crate::g4::Group4Encoder;
use crate::page::{Compression, Page};
use crate::{DataError, FaxError};

/// A page's image and how a PDF reader decodes it (`CCITTFaxDecode`).
#[derive(Debug)]
pub(crate) struct Image {
    pub width: u32,
    pub height: u32,
    pub dpi: (f64, f64),
    pub data: Vec<u8>,
    /// `K`: 0 Group 3 1-D, > 0 Group 3 2-D (at most K - 1 2-D rows after a
    /// 1-D one), < 0 Group 4.
    pub k: i32,
    pub end_of_line: bool,
    pub byte_align: bool,
    /// The data ends with an end-of-block code (the re-encoded pages do;
    /// TIFF strips need not, so theirs stop at `Rows`).
    pub end_of_block: bool,
    /// The data's 1 bits (CCITT "black" runs) are white: PhotometricInterpretation
    /// BlackIsZero.
    pub black_is_1: bool,
    pub reencoded: bool,
}

/// The image of `page` (number `number`, from 1) of the file `tiff`.
pub(crate) fn image(tiff: &[u8], page: &Page, number: usize) -> Result<Image, FaxError> {
    let bad = |why: DataError| FaxError::BadData {
        page: number,
        compression: page.compression,
        why,
    };
    let (data, k, end_of_line, byte_align, end_of_block, reencoded) = match passthrough(page) {
        Some(params) => {
            // Checked, not changed: the PDF carries the TIFF's bytes.
            let strip = &tiff[page.strips[0].clone()];
            let mut rows = RowCount(0);
            decode_ccitt(strip, page, page.height, &mut rows).map_err(bad)?;
            (strip.to_vec(), params.0, params.1, params.2, false, false)
        }
        None => (
            reencode(tiff, page).map_err(bad)?,
            -1,
            false,
            false,
            true,
            true,
        ),
    };
    Ok(Image {
        width: page.width,
        height: page.height,
        dpi: page.dpi,
        data,
        k,
        end_of_line,
        byte_align,
        end_of_block,
        black_is_1: page.black_is_zero,
        reencoded,
    })
}

/// `K`, `EndOfLine` and `EncodedByteAlign` for a page whose data a PDF
/// reader can decode as it is: CCITT data in one strip, in the usual bit
/// order (PDF has no FillOrder). `None` for any other page.
fn passthrough(page: &Page) -> Option<(i32, bool, bool)> {
    if page.strips.len() != 1 || page.reversed_bits {
        return None;
    }
    // K > 0: at most K - 1 2-D rows follow a 1-D row; a TIFF does not say
    // how many (T.4 says 2 or 4), and the page's height bounds them all.
    let mixed = i32::try_from(page.height).unwrap_or(i32::MAX);
    match page.compression {
        Compression::ModifiedHuffman => Some((0, false, true)),
        Compression::Group3 {
            two_d,
            byte_aligned,
        } => Some((if two_d { mixed } else { 0 }, true, byte_aligned)),
        Compression::Group4 => Some((-1, false, false)),
        Compression::None | Compression::PackBits => None,
    }
}

/// A decoded row's sink: the positions where the colour changes, from
/// white at the left edge (1 bits are "black").
trait Rows {
    fn row(&mut self, changes: &[u32]);
    fn count(&self) -> u32;
}

/// Counts rows: what checking a page needs.
struct RowCount(u32);

impl Rows for RowCount {
    fn row(&mut self, _: &[u32]) {
        self.0 += 1;
    }
    fn count(&self) -> u32 {
        self.0
    }
}

/// Re-encodes rows as Group 4.
struct Group4 {
    encoder: Group4Encoder,
    rows: u32,
    /// A code the tables lacked (never, for valid rows): the page fails.
    failed: bool,
}

impl Rows for Group4 {
    fn row(&mut self, changes: &[u32]) {
        self.failed |= self.encoder.row(changes).is_err();
        self.rows += 1;
    }
    fn count(&self) -> u32 {
        self.rows
    }
}

/// Adapts a [`Rows`] to hayro-ccitt, stopping at the strip's rows.
struct Sink<'a, R: Rows> {
    rows: &'a mut R,
}

impl<R: Rows> hayro_ccitt::Decoder for Sink<'_, R> {
    fn push_row(&mut self, changes: &[u32]) {
        self.rows.row(changes);
    }
}

/// Decodes one strip of CCITT data, of `rows` rows, into `sink`; the
/// strip must give exactly that many rows.
fn decode_ccitt<R: Rows>(
    data: &[u8],
    page: &Page,
    rows: u32,
    sink: &mut R,
) -> Result<(), DataError> {
    let (encoding, end_of_line, aligned) = match page.compression {
        Compression::ModifiedHuffman => (EncodingMode::Group3_1D, false, true),
        Compression::Group3 {
            two_d: false,
            byte_aligned,
        } => (EncodingMode::Group3_1D, true, byte_aligned),
        Compression::Group3 {
            two_d: true,
            byte_aligned,
        } => (EncodingMode::Group3_2D, true, byte_aligned),
        Compression::Group4 => (EncodingMode::Group4, false, false),
        Compression::None | Compression::PackBits => {
            return Err(DataError::NotCcitt);
        }
    };
    let mut context = DecoderContext::new(DecodeSettings {
        columns: page.width,
        rows,
        end_of_block: true,
        end_of_line,
        rows_are_byte_aligned: aligned,
        encoding,
        strict: true,
    });
    let before = sink.count();
    let result = hayro_ccitt::decode(data, &mut Sink { rows: sink }, &mut context);
    let decoded = sink.count() - before;
    match result {
        Err(source) => Err(DataError::Ccitt {
            source,
            decoded,
            rows,
        }),
        Ok(_) if decoded != rows => Err(DataError::RowCount { decoded, rows }),
        Ok(_) => Ok(()),
    }
}

/// The page decoded strip by strip and encoded as Group 4.
fn reencode(tiff: &[u8], page: &Page) -> Result<Vec<u8>, DataError> {
    let mut out = Group4 {
        encoder: Group4Encoder::new(page.width),
        rows: 0,
        failed: false,
    };
    let mut changes = Vec::new();
    for (index, range) in page.strips.iter().enumerate() {
        let first = (index as u32).saturating_mul(page.rows_per_strip);
        let rows = page.rows_per_strip.min(page.height.saturating_sub(first));
        let mut bytes = tiff[range.clone()].to_vec();
        if page.reversed_bits {
            bytes.iter_mut().for_each(|b| *b = b.reverse_bits());
        }
        let in_strip = |why: DataError| DataError::Strip {
            strip: index + 1,
            why: Box::new(why),
        };
        match page.compression {
            Compression::None => raw_rows(&bytes, page.width, rows, &mut changes, &mut out),
            Compression::PackBits => {
                let row_bytes = page.width.div_ceil(8) as usize;
                unpack_bits(&bytes, row_bytes * rows as usize).and_then(|unpacked| {
                    raw_rows(&unpacked, page.width, rows, &mut changes, &mut out)
                })
            }
            _ => decode_ccitt(&bytes, page, rows, &mut out),
        }
        .map_err(in_strip)?;
    }
    match out.encoder.finish() {
        Ok(data) if !out.failed => Ok(data),
        _ => Err(DataError::NoGroup4Code),
    }
}

/// Rows of uncompressed pixels (a row padded to a byte), to `sink`.
fn raw_rows(
    bytes: &[u8],
    width: u32,
    rows: u32,
    changes: &mut Vec<u32>,
    sink: &mut impl Rows,
) -> Result<(), DataError> {
    let row_bytes = width.div_ceil(8) as usize;
    let needed = row_bytes * rows as usize;
    if bytes.len() < needed {
        return Err(DataError::ShortRows {
            have: bytes.len(),
            rows,
            width,
            needed,
        });
    }
    for row in bytes.chunks_exact(row_bytes).take(rows as usize) {
        changes.clear();
        let mut black = false;
        for x in 0..width {
            let bit = row[(x / 8) as usize] & (0x80 >> (x % 8)) != 0;
            if bit != black {
                changes.push(x);
                black = bit;
            }
        }
        sink.row(changes);
    }
    Ok(())
}

/// Expands PackBits data (TIFF 32773, Apple's run-length code) to `len`
/// bytes.
pub(crate) fn unpack_bits(data: &[u8], len: usize) -> Result<Vec<u8>, DataError> {
    // A PackBits byte pair expands to at most 128 bytes: the data bounds
    // what a page's tags may ask for.
    let mut out = Vec::with_capacity(len.min(data.len().saturating_mul(64)));
    let mut input = data.iter();
    while out.len() < len {
        let Some(&header) = input.next() else {
            return Err(DataError::PackBitsShort {
                unpacked: out.len(),
                len,
            });
        };
        let n = header as i8;
        if n >= 0 {
            let literal = input.as_slice();
            let count = n as usize + 1;
            if literal.len() < count {
                return Err(DataError::PackBitsLiteral);
            }
            out.extend_from_slice(&literal[..count]);
            input = literal[count..].iter();
        } else if n != -128 {
            let Some(&byte) = input.next() else {
                return Err(DataError::PackBitsRepeat);
            };
            out.extend(std::iter::repeat_n(byte, (1 - isize::from(n)) as usize));
        }
    }
    out.truncate(len);
    Ok(out)
}

/// Pixels of a row as colours, for tests: 1 bits are black.
#[cfg(test)]
pub(crate) fn colors(changes: &[u32], width: u32) -> Vec<fax::Color> {
    fax::decoder::pels(changes, width).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Collects decoded rows as bit vectors.
    struct Collect(Vec<Vec<bool>>, u32);
    impl Rows for Collect {
        fn row(&mut self, changes: &[u32]) {
            self.0.push(
                colors(changes, self.1)
                    .into_iter()
                    .map(|c| c == fax::Color::Black)
                    .collect(),
            );
        }
        fn count(&self) -> u32 {
            self.0.len() as u32
        }
    }

    fn page(width: u32, height: u32, compression: Compression) -> Page {
        Page {
            width,
            height,
            dpi: (204.0, 196.0),
            compression,
            reversed_bits: false,
            black_is_zero: false,
            rows_per_strip: height,
            strips: vec![],
        }
    }

    /// A deterministic bitmap with runs of every length, edges black and
    /// white, and rows that differ a little and a lot from the one above.
    fn bitmap(width: u32, height: u32) -> Vec<Vec<bool>> {
        let mut state = 0x766d_6169u32;
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        match y % 4 {
                            0 => (x / (y + 1)) % 2 == 0,
                            1 => state.is_multiple_of(7),
                            2 => x < 3 || x + 3 > width,
                            _ => (x * x / 97 + y) % 3 == 0,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn group4_reencoding_gives_back_every_pixel() {
        for (width, height) in [(1, 1), (7, 3), (1728, 40), (2481, 9), (64, 64)] {
            let pixels = bitmap(width, height);
            let mut raw = Vec::new();
            for row in &pixels {
                let mut bytes = vec![0u8; width.div_ceil(8) as usize];
                for (x, &black) in row.iter().enumerate() {
                    if black {
                        bytes[x / 8] |= 0x80 >> (x % 8);
                    }
                }
                raw.extend(bytes);
            }
            let mut p = page(width, height, Compression::None);
            p.strips = std::iter::once(0..raw.len()).collect();
            let g4 = reencode(&raw, &p).unwrap();
            let mut back = Collect(vec![], width);
            let g4_page = page(width, height, Compression::Group4);
            decode_ccitt(&g4, &g4_page, height, &mut back).unwrap();
            assert_eq!(back.0, pixels, "{width} × {height}");
        }
    }

    #[test]
    fn group4_reencoding_gives_back_noise_and_staircases() {
        let mut state = 0x1234_5678u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let (width, height) = (333u32, 60u32);
        let pixels: Vec<Vec<bool>> = (0..height)
            .map(|y| {
                let shift = next() % 9;
                (0..width)
                    .map(|x| match y % 3 {
                        0 => next() % 2 == 0,
                        1 => (x + y * shift) % 11 < 5,
                        _ => (x / 3 + y) % 2 == 0,
                    })
                    .collect()
            })
            .collect();
        let mut raw = Vec::new();
        for row in &pixels {
            let mut bytes = vec![0u8; width.div_ceil(8) as usize];
            for (x, &black) in row.iter().enumerate() {
                if black {
                    bytes[x / 8] |= 0x80 >> (x % 8);
                }
            }
            raw.extend(bytes);
        }
        let mut p = page(width, height, Compression::None);
        p.strips = std::iter::once(0..raw.len()).collect();
        let g4 = reencode(&raw, &p).unwrap();
        let mut back = Collect(vec![], width);
        decode_ccitt(
            &g4,
            &page(width, height, Compression::Group4),
            height,
            &mut back,
        )
        .unwrap();
        assert_eq!(back.0, pixels);
    }

    #[test]
    fn packbits_expands_literals_and_repeats_and_skips_128() {
        let data = [2, b'a', b'b', b'c', 0xfe, b'x', 0x80, 0, b'z'];
        assert_eq!(unpack_bits(&data, 7).unwrap(), b"abcxxxz");
        assert_eq!(
            unpack_bits(&[5, 1], 6).unwrap_err().to_string(),
            "PackBits literal run past the end of the strip"
        );
        assert_eq!(
            unpack_bits(&[0xff, 1], 4).unwrap_err().to_string(),
            "PackBits data ends after 2 of 4 bytes"
        );
    }

    #[test]
    fn truncated_group4_data_is_refused_with_the_rows_it_gave() {
        let raw = vec![0x0fu8; 216 * 100];
        let mut p = page(1728, 100, Compression::None);
        p.strips = std::iter::once(0..raw.len()).collect();
        let g4 = reencode(&raw, &p).unwrap();
        let g4_page = page(1728, 100, Compression::Group4);
        let err = decode_ccitt(&g4[..g4.len() / 2], &g4_page, 100, &mut RowCount(0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("of 100 rows") || err.contains("rows where there are 100"),
            "{err}"
        );
    }
}
