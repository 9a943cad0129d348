//! A fax TIFF as one PDF, all pages in order, losslessly.
//!
//! Fax images are TIFF files compressed with CCITT Group 3 or Group 4, often
//! at the "normal" resolution of 204×98 dpi, whose pixels are twice as tall
//! as wide. A PDF viewer reads CCITT data itself (`CCITTFaxDecode`), so:
//!
//! - a page whose CCITT data is one strip in the usual bit order goes into
//!   the PDF byte for byte, its parameters (`K`, `EndOfLine`,
//!   `EncodedByteAlign`, `BlackIs1`) read from the TIFF's `Compression`,
//!   `T4Options` and `PhotometricInterpretation`; it is decoded once only
//!   to check it, so that a damaged page is refused here rather than shown
//!   half blank by the reader's viewer;
//! - any other bilevel page (several strips, fill order 2, uncompressed,
//!   PackBits) is decoded and re-encoded as Group 4, pixel for pixel;
//! - each page is `width / XResolution` × `height / YResolution` inches
//!   (`ResolutionUnit` honoured; 204×196 dpi when the TIFF has none), so a
//!   204×98 dpi page is as tall as the paper it was sent on. Nothing is
//!   resampled: the image is the page.
//!
//! Tags are read with the `tiff` crate, CCITT decoded with `hayro-ccitt`,
//! Group 4 encoded with `fax`'s code tables (from colour changes, which
//! `fax`'s own encoder does not take), and the PDF written with `pdf-writer`.

#![forbid(unsafe_code)]

mod codec;
mod error;
mod g4;
mod page;
mod pdf;

pub use error::{DataError, DirectoryError, FaxError, Unsupported};
pub use page::Compression;

/// A converted fax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// The PDF file.
    pub pdf: Vec<u8>,
    /// How many pages it has (one per page of the TIFF).
    pub pages: usize,
    /// How many of them were decoded and re-encoded as Group 4 (the others
    /// carry the TIFF's own CCITT data).
    pub reencoded: usize,
}

/// The most pages a fax may have: a bound on the work a file can ask for.
pub const MAX_PAGES: usize = 1000;

/// Converts the fax TIFF `tiff` into one PDF.
pub fn tiff_to_pdf(tiff: &[u8]) -> Result<Converted, FaxError> {
    let pages = page::read_pages(tiff)?;
    let mut images = Vec::with_capacity(pages.len());
    let mut reencoded = 0;
    for (index, page) in pages.iter().enumerate() {
        let image = codec::image(tiff, page, index + 1)?;
        if image.reencoded {
            reencoded += 1;
        }
        images.push(image);
    }
    Ok(Converted {
        pdf: pdf::write(&images),
        pages: images.len(),
        reencoded,
    })
}

/// `true` when `bytes` start like a TIFF file (either byte order), for a
/// caller choosing which attachments to convert.
pub fn looks_like_tiff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*")
}
