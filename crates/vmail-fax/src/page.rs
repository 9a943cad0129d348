//! The pages of a TIFF, as the tags describe them: geometry, resolution,
//! compression, and where each strip's bytes are in the file.

use std::fmt;
use std::io::Cursor;
use std::ops::Range;

use tiff::decoder::ifd::Value;
use tiff::decoder::{Decoder, Limits};
use tiff::tags::Tag;

use crate::{DirectoryError, FaxError, MAX_PAGES, Unsupported};

/// The resolution a fax TIFF without one is taken to have (fine, the
/// resolution fax2tiff and most fax servers write).
const DEFAULT_DPI: (f64, f64) = (204.0, 196.0);

/// The widest and tallest page accepted, in pixels: a bound on the work a
/// file can ask for (an A3 page at 400 dpi is 4,700 × 6,700).
pub(crate) const MAX_SIDE: u32 = 20_000;

/// Group 3 and Group 4 options (TIFF 6.0, section 11), which the `tiff`
/// crate has no names for.
const T4_OPTIONS: Tag = Tag::Unknown(292);
const T6_OPTIONS: Tag = Tag::Unknown(293);

/// How a page's pixels are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression, rows padded to a byte.
    None,
    /// Modified Huffman without EOL codes, rows byte-aligned (TIFF 2).
    ModifiedHuffman,
    /// Group 3 (T.4), 1-D or 2-D (`two_d`), with EOL codes;
    /// `byte_aligned`: fill bits end every EOL on a byte boundary.
    Group3 { two_d: bool, byte_aligned: bool },
    /// Group 4 (T.6).
    Group4,
    /// PackBits run-length encoding of uncompressed rows.
    PackBits,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::ModifiedHuffman => "CCITT modified Huffman",
            Compression::Group3 { two_d: false, .. } => "Group 3 1-D",
            Compression::Group3 { two_d: true, .. } => "Group 3 2-D",
            Compression::Group4 => "Group 4",
            Compression::PackBits => "PackBits",
        })
    }
}

/// One page of the TIFF.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub width: u32,
    pub height: u32,
    /// Pixels per inch, across and down.
    pub dpi: (f64, f64),
    pub compression: Compression,
    /// FillOrder 2: the bits of each byte are stored least significant first.
    pub reversed_bits: bool,
    /// PhotometricInterpretation 1 (BlackIsZero): a 1 bit is white.
    pub black_is_zero: bool,
    /// Rows per strip (the last strip may have fewer).
    pub rows_per_strip: u32,
    /// Each strip's bytes, as a range of the file, checked to be inside it.
    pub strips: Vec<Range<usize>>,
}

/// Reads every page's tags, in the order of the file's directories.
pub(crate) fn read_pages(tiff: &[u8]) -> Result<Vec<Page>, FaxError> {
    let mut decoder = Decoder::new(Cursor::new(tiff))
        .map_err(|err| FaxError::NotTiff(err.into()))?
        .with_limits(Limits::default());
    let mut pages = Vec::new();
    loop {
        let number = pages.len() + 1;
        if number > MAX_PAGES {
            return Err(FaxError::TooManyPages);
        }
        pages.push(read_page(&mut decoder, tiff.len(), number)?);
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(|err| FaxError::Damaged {
            page: number + 1,
            why: err.into(),
        })?;
    }
    Ok(pages)
}

type Tiff<'a> = Decoder<Cursor<&'a [u8]>>;

fn read_page(decoder: &mut Tiff<'_>, len: usize, page: usize) -> Result<Page, FaxError> {
    let damaged = |why: DirectoryError| FaxError::Damaged { page, why };
    let unsupported = |what: Unsupported| FaxError::Unsupported { page, what };
    let mut number = |tag: Tag, default: Option<u64>| -> Result<u64, FaxError> {
        match decoder.find_tag(tag) {
            Ok(Some(value)) => value
                .into_u64()
                .map_err(|_| damaged(DirectoryError::NotANumber(tag))),
            Ok(None) => default.ok_or_else(|| damaged(DirectoryError::Missing(tag))),
            Err(source) => Err(damaged(DirectoryError::Tag { tag, source })),
        }
    };
    let width = number(Tag::ImageWidth, None)?;
    let height = number(Tag::ImageLength, None)?;
    let bits = number(Tag::BitsPerSample, Some(1))?;
    let samples = number(Tag::SamplesPerPixel, Some(1))?;
    let compression = number(Tag::Compression, Some(1))?;
    let photometric = number(Tag::PhotometricInterpretation, Some(0))?;
    let fill_order = number(Tag::FillOrder, Some(1))?;
    let t4 = number(T4_OPTIONS, Some(0))?;
    let t6 = number(T6_OPTIONS, Some(0))?;
    let rows_per_strip = number(Tag::RowsPerStrip, Some(u64::from(u32::MAX)))?;
    let unit = number(Tag::ResolutionUnit, Some(2))?;
    if bits != 1 || samples != 1 {
        return Err(unsupported(Unsupported::Depth { samples, bits }));
    }
    if width == 0 || height == 0 || width > MAX_SIDE.into() || height > MAX_SIDE.into() {
        return Err(unsupported(Unsupported::Size { width, height }));
    }
    if decoder.find_tag(Tag::TileWidth).ok().flatten().is_some() {
        return Err(unsupported(Unsupported::Tiled));
    }
    let black_is_zero = match photometric {
        0 => false,
        1 => true,
        other => {
            return Err(unsupported(Unsupported::Photometric(other)));
        }
    };
    let reversed_bits = match fill_order {
        1 => false,
        2 => true,
        other => return Err(damaged(DirectoryError::FillOrder(other))),
    };
    let compression = match compression {
        1 => Compression::None,
        2 => Compression::ModifiedHuffman,
        3 if t4 & 2 != 0 => {
            return Err(unsupported(Unsupported::Group3Uncompressed));
        }
        3 => Compression::Group3 {
            two_d: t4 & 1 != 0,
            byte_aligned: t4 & 4 != 0,
        },
        4 if t6 & 2 != 0 => {
            return Err(unsupported(Unsupported::Group4Uncompressed));
        }
        4 => Compression::Group4,
        32773 => Compression::PackBits,
        other => return Err(unsupported(Unsupported::Compression(other))),
    };
    let width = width as u32;
    let height = height as u32;
    let rows_per_strip = rows_per_strip.clamp(1, height.into()) as u32;
    let strips = strips(decoder, len, height.div_ceil(rows_per_strip)).map_err(damaged)?;
    let dpi = resolution(decoder, unit).map_err(damaged)?;
    Ok(Page {
        width,
        height,
        dpi,
        compression,
        reversed_bits,
        black_is_zero,
        rows_per_strip,
        strips,
    })
}

/// The byte ranges of the page's `expected` strips.
fn strips(
    decoder: &mut Tiff<'_>,
    len: usize,
    expected: u32,
) -> Result<Vec<Range<usize>>, DirectoryError> {
    let mut list = |tag: Tag| -> Result<Vec<u64>, DirectoryError> {
        decoder
            .find_tag_unsigned_vec::<u64>(tag)
            .map_err(|source| DirectoryError::Tag { tag, source })?
            .ok_or(DirectoryError::Missing(tag))
    };
    let offsets = list(Tag::StripOffsets)?;
    let counts = list(Tag::StripByteCounts)?;
    if offsets.len() != expected as usize || counts.len() != offsets.len() {
        return Err(DirectoryError::StripCount {
            offsets: offsets.len(),
            counts: counts.len(),
            expected,
        });
    }
    offsets
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(index, (&offset, &count))| {
            let end = offset.checked_add(count).filter(|&end| end <= len as u64);
            match end {
                Some(end) => Ok(offset as usize..end as usize),
                None => Err(DirectoryError::StripPastTheEnd {
                    strip: index + 1,
                    count,
                    offset,
                    len,
                }),
            }
        })
        .collect()
}

/// Pixels per inch across and down, from XResolution, YResolution and
/// ResolutionUnit (2 inch, 3 centimetre; 1, no unit, is taken as inch,
/// which is what the numbers of a fax mean).
fn resolution(decoder: &mut Tiff<'_>, unit: u64) -> Result<(f64, f64), DirectoryError> {
    let mut read = |tag: Tag| -> Result<Option<f64>, DirectoryError> {
        let value = decoder
            .find_tag(tag)
            .map_err(|source| DirectoryError::Tag { tag, source })?;
        let number = match value {
            None => return Ok(None),
            Some(Value::Rational(n, d)) if d != 0 => f64::from(n) / f64::from(d),
            Some(other) => other
                .into_f64()
                .map_err(|_| DirectoryError::NotANumber(tag))?,
        };
        if (1.0..=100_000.0).contains(&number) {
            Ok(Some(number))
        } else {
            Err(DirectoryError::NotAResolution { tag, value: number })
        }
    };
    let (x, y) = match (read(Tag::XResolution)?, read(Tag::YResolution)?) {
        (Some(x), Some(y)) => (x, y),
        _ => return Ok(DEFAULT_DPI),
    };
    match unit {
        1 | 2 => Ok((x, y)),
        3 => Ok((x * 2.54, y * 2.54)),
        other => Err(DirectoryError::ResolutionUnit(other)),
    }
}
