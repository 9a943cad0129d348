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

/// One page's tags, read in full before any is judged, then checked to be
/// a bilevel fax image.
fn read_page(decoder: &mut Tiff<'_>, len: usize, page: usize) -> Result<Page, FaxError> {
    let damaged = |why: DirectoryError| FaxError::Damaged { page, why };
    let unsupported = |what: Unsupported| FaxError::Unsupported { page, what };
    let tags = Tags::read(decoder).map_err(damaged)?;
    let (width, height) = tags.size().map_err(unsupported)?;
    if decoder.find_tag(Tag::TileWidth).ok().flatten().is_some() {
        return Err(unsupported(Unsupported::Tiled));
    }
    let black_is_zero = match tags.photometric {
        0 => false,
        1 => true,
        other => return Err(unsupported(Unsupported::Photometric(other))),
    };
    let reversed_bits = match tags.fill_order {
        1 => false,
        2 => true,
        other => return Err(damaged(DirectoryError::FillOrder(other))),
    };
    let compression = tags.compression().map_err(unsupported)?;
    let rows_per_strip = tags.rows_per_strip.clamp(1, height.into()) as u32;
    let strips = strips(decoder, len, height.div_ceil(rows_per_strip)).map_err(damaged)?;
    let dpi = resolution(decoder, tags.unit).map_err(damaged)?;
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

/// The numeric tags of a page, with TIFF 6.0's defaults where one is
/// absent.
struct Tags {
    width: u64,
    height: u64,
    bits: u64,
    samples: u64,
    compression: u64,
    photometric: u64,
    fill_order: u64,
    t4: u64,
    t6: u64,
    rows_per_strip: u64,
    unit: u64,
}

impl Tags {
    fn read(decoder: &mut Tiff<'_>) -> Result<Tags, DirectoryError> {
        let mut number = |tag: Tag, default: Option<u64>| match decoder.find_tag(tag) {
            Ok(Some(value)) => value
                .into_u64()
                .map_err(|_| DirectoryError::NotANumber(tag)),
            Ok(None) => default.ok_or(DirectoryError::Missing(tag)),
            Err(source) => Err(DirectoryError::Tag { tag, source }),
        };
        Ok(Tags {
            width: number(Tag::ImageWidth, None)?,
            height: number(Tag::ImageLength, None)?,
            bits: number(Tag::BitsPerSample, Some(1))?,
            samples: number(Tag::SamplesPerPixel, Some(1))?,
            compression: number(Tag::Compression, Some(1))?,
            photometric: number(Tag::PhotometricInterpretation, Some(0))?,
            fill_order: number(Tag::FillOrder, Some(1))?,
            t4: number(T4_OPTIONS, Some(0))?,
            t6: number(T6_OPTIONS, Some(0))?,
            rows_per_strip: number(Tag::RowsPerStrip, Some(u64::from(u32::MAX)))?,
            unit: number(Tag::ResolutionUnit, Some(2))?,
        })
    }

    /// Width and height of a page of one 1-bit sample per pixel, within
    /// [`MAX_SIDE`].
    fn size(&self) -> Result<(u32, u32), Unsupported> {
        let (width, height) = (self.width, self.height);
        if self.bits != 1 || self.samples != 1 {
            return Err(Unsupported::Depth {
                samples: self.samples,
                bits: self.bits,
            });
        }
        let side = 1..=u64::from(MAX_SIDE);
        if !side.contains(&width) || !side.contains(&height) {
            return Err(Unsupported::Size { width, height });
        }
        Ok((width as u32, height as u32))
    }

    fn compression(&self) -> Result<Compression, Unsupported> {
        Ok(match self.compression {
            1 => Compression::None,
            2 => Compression::ModifiedHuffman,
            3 if self.t4 & 2 != 0 => return Err(Unsupported::Group3Uncompressed),
            3 => Compression::Group3 {
                two_d: self.t4 & 1 != 0,
                byte_aligned: self.t4 & 4 != 0,
            },
            4 if self.t6 & 2 != 0 => return Err(Unsupported::Group4Uncompressed),
            4 => Compression::Group4,
            32773 => Compression::PackBits,
            other => return Err(Unsupported::Compression(other)),
        })
    }
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
