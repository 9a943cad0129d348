//! Why a TIFF could not be converted, as data: the text is what an
//! administrator reads in a quarantine note or after `vfx` refuses a file.
//! Pages and strips count from 1, as a reader of the fax does.

use thiserror::Error;
use tiff::tags::Tag;

use crate::MAX_PAGES;
use crate::page::{Compression, MAX_SIDE};

/// Why a TIFF could not be converted.
#[derive(Debug, Error)]
pub enum FaxError {
    /// Not a TIFF at all, or its first directory cannot be read.
    #[error("not a readable TIFF file: {0}")]
    NotTiff(#[source] DirectoryError),
    /// A page's directory is damaged (a tag of the wrong type, strips
    /// outside the file).
    #[error("page {page}: damaged TIFF directory: {why}")]
    Damaged {
        page: usize,
        #[source]
        why: DirectoryError,
    },
    /// A page is not something a fax is made of (colour, grey, tiles).
    #[error("page {page}: unsupported: {what}")]
    Unsupported { page: usize, what: Unsupported },
    /// A page's compressed data does not decode to its rows.
    #[error("page {page}: damaged {compression} data: {why}")]
    BadData {
        page: usize,
        compression: Compression,
        #[source]
        why: DataError,
    },
    /// The TIFF has more pages than [`MAX_PAGES`].
    #[error("more than {MAX_PAGES} pages")]
    TooManyPages,
}

/// What is wrong with a TIFF directory (the tags of a page).
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// What the `tiff` crate says as "failed to fill whole buffer".
    #[error("the file ends inside a directory")]
    CutShort,
    #[error("{0}")]
    Tiff(#[source] tiff::TiffError),
    #[error("{tag:?}: {source}")]
    Tag {
        tag: Tag,
        #[source]
        source: tiff::TiffError,
    },
    #[error("no {0:?} tag")]
    Missing(Tag),
    #[error("{0:?} is not a number")]
    NotANumber(Tag),
    #[error("FillOrder {0}")]
    FillOrder(u64),
    #[error("{offsets} strip offsets and {counts} byte counts for {expected} strips")]
    StripCount {
        offsets: usize,
        counts: usize,
        expected: u32,
    },
    #[error(
        "strip {strip} ({count} bytes at {offset}) ends past the end of the file ({len} bytes)"
    )]
    StripPastTheEnd {
        strip: usize,
        count: u64,
        offset: u64,
        len: usize,
    },
    #[error("{tag:?} {value} is not a resolution")]
    NotAResolution { tag: Tag, value: f64 },
    #[error("ResolutionUnit {0}")]
    ResolutionUnit(u64),
}

impl From<tiff::TiffError> for DirectoryError {
    fn from(err: tiff::TiffError) -> DirectoryError {
        match err {
            tiff::TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                DirectoryError::CutShort
            }
            other => DirectoryError::Tiff(other),
        }
    }
}

/// A page that is not a bilevel fax image.
#[derive(Debug, Error)]
pub enum Unsupported {
    #[error("{samples} sample(s) of {bits} bit(s) per pixel (a fax is 1 sample of 1 bit)")]
    Depth { samples: u64, bits: u64 },
    #[error("{width} × {height} pixels (at most {MAX_SIDE} each way)")]
    Size { width: u64, height: u64 },
    #[error("tiled image (a fax is stored in strips)")]
    Tiled,
    #[error("photometric interpretation {0} (a fax is WhiteIsZero or BlackIsZero)")]
    Photometric(u64),
    #[error("Group 3 with uncompressed mode (T4Options bit 1)")]
    Group3Uncompressed,
    #[error("Group 4 with uncompressed mode (T6Options bit 1)")]
    Group4Uncompressed,
    #[error("compression {0}")]
    Compression(u64),
}

/// Why a page's pixel data does not give its rows.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("strip {strip}: {why}")]
    Strip {
        strip: usize,
        #[source]
        why: Box<DataError>,
    },
    #[error("not CCITT data")]
    NotCcitt,
    #[error("{source} after {decoded} of {rows} rows")]
    Ccitt {
        #[source]
        source: hayro_ccitt::DecodeError,
        decoded: u32,
        rows: u32,
    },
    #[error("{decoded} rows where there are {rows}")]
    RowCount { decoded: u32, rows: u32 },
    #[error("{have} bytes where {rows} rows of {width} pixels need {needed}")]
    ShortRows {
        have: usize,
        rows: u32,
        width: u32,
        needed: usize,
    },
    #[error("PackBits data ends after {unpacked} of {len} bytes")]
    PackBitsShort { unpacked: usize, len: usize },
    #[error("PackBits literal run past the end of the strip")]
    PackBitsLiteral,
    #[error("PackBits repeat run past the end of the strip")]
    PackBitsRepeat,
    #[error("a row Group 4 has no code for")]
    NoGroup4Code,
}
