//! A damaged or unsupported TIFF is refused with a reason that says what is
//! wrong and where; never a panic.

use vmail_fax::tiff_to_pdf;

use crate::fixtures::dir;

fn reason(bytes: &[u8]) -> String {
    tiff_to_pdf(bytes).unwrap_err().to_string()
}

#[test]
fn a_file_that_is_not_a_tiff_is_named_so() {
    assert_eq!(
        reason(b"%PDF-1.4 not a fax"),
        "not a readable TIFF file: format error: TIFF signature not found"
    );
}

/// Sets the first value of `tag` in the first IFD of a little-endian TIFF.
fn set_tag(tiff: &mut [u8], tag: u16, value: u32) {
    let u16_at = |t: &[u8], at: usize| u16::from_le_bytes([t[at], t[at + 1]]);
    let ifd = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
    let count = u16_at(tiff, ifd) as usize;
    let entry = (0..count)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&at| u16_at(tiff, at) == tag)
        .unwrap();
    tiff[entry + 8..entry + 12].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn a_strip_past_the_end_of_the_file_is_named() {
    let mut tiff = std::fs::read(dir().join("g4-normal-1p.tif")).unwrap();
    let len = tiff.len();
    set_tag(&mut tiff, 279, 1_000_000);
    assert_eq!(
        reason(&tiff),
        format!(
            "page 1: damaged TIFF directory: strip 1 (1000000 bytes at 8) ends past the end of the file ({len} bytes)"
        )
    );
}

#[test]
fn a_truncated_file_is_refused() {
    let tiff = std::fs::read(dir().join("g3-2d-fine-10p.tif")).unwrap();
    // tiffcp writes each page's directory after its strip: half the file
    // has five whole pages and the start of the sixth's directory.
    assert_eq!(
        reason(&tiff[..tiff.len() / 2]),
        "page 6: damaged TIFF directory: the file ends inside a directory"
    );
}

#[test]
fn damaged_group4_data_is_refused_with_its_page() {
    let mut tiff = std::fs::read(dir().join("g4-fine-10p.tif")).unwrap();
    // tiffcp writes page 1's strip from offset 8: scribble over its middle.
    for byte in &mut tiff[200..260] {
        *byte = 0;
    }
    let why = reason(&tiff);
    assert!(why.starts_with("page 1: damaged Group 4 data: "), "{why}");
}

#[test]
fn colour_is_unsupported() {
    // An 8-bit RGB TIFF: header, one IFD, 1 × 1 pixel.
    let mut t = b"II*\0\x08\0\0\0".to_vec();
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 3, 1, 1),   // width
        (257, 3, 1, 1),   // length
        (258, 3, 1, 8),   // bits per sample
        (259, 3, 1, 1),   // no compression
        (262, 3, 1, 2),   // RGB
        (273, 4, 1, 200), // strip offset
        (277, 3, 1, 3),   // samples per pixel
        (279, 4, 1, 3),   // strip byte count
    ];
    t.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        t.extend(tag.to_le_bytes());
        t.extend(kind.to_le_bytes());
        t.extend(count.to_le_bytes());
        t.extend(value.to_le_bytes());
    }
    t.extend(0u32.to_le_bytes());
    t.resize(203, 0x80);
    let why = reason(&t);
    assert!(
        why.starts_with("page 1: unsupported: 3 sample(s) of 8 bit(s)") || why.contains("RGB"),
        "{why}"
    );
}
