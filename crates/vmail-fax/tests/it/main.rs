//! vmail-fax against real fax TIFFs made by Debian's tools (libtiff-tools,
//! ImageMagick, see make-faxes.sh) and read back by poppler.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod damaged_tiffs_are_refused;
mod fixtures;
mod poppler_reads_every_page;
