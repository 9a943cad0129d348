//! Every fax of make-faxes.sh converts, and poppler shows every page at the
//! TIFF's size and, rendered at the TIFF's own resolution, with the TIFF's
//! pixels exactly.

use std::path::Path;
use std::process::Command;

use crate::fixtures::{Fax, Pbm, faxes};

/// What `tiffinfo` says of a TIFF's first page: pixels and dots per inch.
struct Geometry {
    width: f64,
    height: f64,
    xres: f64,
    yres: f64,
}

fn tiffinfo(tiff: &Path) -> Geometry {
    let out = Command::new("tiffinfo").arg(tiff).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let after = |key: &str| -> Vec<f64> {
        let line = text.lines().find(|l| l.contains(key)).unwrap();
        line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect()
    };
    let size = after("Image Width:");
    let res = after("Resolution:");
    assert!(
        text.contains("pixels/inch"),
        "{}: resolution not in inches",
        tiff.display()
    );
    Geometry {
        width: size[0],
        height: size[1],
        xres: res[0],
        yres: res[1],
    }
}

/// `pdfinfo`'s page count and each page's size in points.
fn pdfinfo(pdf: &Path) -> (usize, Vec<(f64, f64)>) {
    let out = Command::new("pdfinfo")
        .args(["-f", "1", "-l", "1000"])
        .arg(pdf)
        .output()
        .unwrap();
    assert!(out.status.success(), "pdfinfo {}: {:?}", pdf.display(), out);
    let text = String::from_utf8_lossy(&out.stdout);
    let pages = text
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let sizes = text
        .lines()
        .filter(|l| l.starts_with("Page ") && l.contains(" size: "))
        .map(|l| {
            let size = l.split(" size: ").nth(1).unwrap();
            let mut numbers = size.split_whitespace();
            let w = numbers.next().unwrap().parse().unwrap();
            numbers.next();
            let h = numbers.next().unwrap().parse().unwrap();
            (w, h)
        })
        .collect();
    (pages, sizes)
}

fn check(fax: &Fax, work: &Path) {
    let name = fax.name();
    let tiff = std::fs::read(&fax.tiff).unwrap();
    let converted = vmail_fax::tiff_to_pdf(&tiff).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(converted.pages, fax.pages, "{name}");
    let pdf = work.join(format!("{name}.pdf"));
    std::fs::write(&pdf, &converted.pdf).unwrap();

    let geometry = tiffinfo(&fax.tiff);
    let (pages, sizes) = pdfinfo(&pdf);
    assert_eq!(pages, fax.pages, "{name}: pdfinfo's page count");
    let expected = (
        geometry.width * 72.0 / geometry.xres,
        geometry.height * 72.0 / geometry.yres,
    );
    for (n, &(w, h)) in sizes.iter().enumerate() {
        assert!(
            (w - expected.0).abs() < 0.01 && (h - expected.1).abs() < 0.01,
            "{name}: page {} is {w} x {h} pts, the TIFF says {} x {}",
            n + 1,
            expected.0,
            expected.1
        );
    }

    let prefix = work.join(&name);
    let status = Command::new("pdftoppm")
        .args([
            "-mono",
            "-rx",
            &geometry.xres.to_string(),
            "-ry",
            &geometry.yres.to_string(),
        ])
        .arg(&pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(status.success(), "{name}: pdftoppm {status}");
    let digits = fax.pages.to_string().len().max(1);
    for n in 1..=fax.pages {
        let rendered = Pbm::read(&work.join(format!("{name}-{n:0digits$}.pbm")));
        let source = Pbm::read(&fax.page(n));
        assert_eq!(
            (rendered.width, rendered.height),
            (source.width, source.height),
            "{name}: page {n} rendered at the TIFF's resolution"
        );
        if let Some((x, y)) = rendered.first_difference(&source) {
            panic!("{name}: page {n} differs from its source first at pixel ({x}, {y})");
        }
    }
}

#[test]
fn every_page_has_the_tiffs_size_and_pixels() {
    let work = tempfile::tempdir().unwrap();
    let faxes = faxes();
    assert!(faxes.len() >= 19, "{} faxes in the manifest", faxes.len());
    for fax in &faxes {
        check(fax, work.path());
    }
}

#[test]
fn one_strip_ccitt_pages_are_carried_and_the_others_reencoded() {
    for fax in faxes() {
        let name = fax.name();
        let converted = vmail_fax::tiff_to_pdf(&std::fs::read(&fax.tiff).unwrap()).unwrap();
        let carried =
            name.starts_with("g3-") || name.starts_with("g4-") || name == "fax2tiff-g4-fine-1p";
        let reencoded = !carried || name.contains("strips") || name.contains("lsb2msb");
        assert_eq!(
            converted.reencoded,
            if reencoded { fax.pages } else { 0 },
            "{name}: pages re-encoded"
        );
    }
}
