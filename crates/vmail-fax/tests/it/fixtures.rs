//! The fax TIFFs of make-faxes.sh, made once per version of the script
//! (under the target folder) and shared by the tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One TIFF of the manifest and the pages it must show.
pub struct Fax {
    pub tiff: PathBuf,
    pub pages: usize,
    /// `SOURCE-N.pbm`, from 1, is page N's bitmap.
    pub source: PathBuf,
}

impl Fax {
    pub fn name(&self) -> String {
        self.tiff
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
    pub fn page(&self, n: usize) -> PathBuf {
        let mut name = self.source.file_name().unwrap().to_os_string();
        name.push(format!("-{n}.pbm"));
        self.source.with_file_name(name)
    }
}

const SCRIPT: &str = include_str!("../make-faxes.sh");

/// The folder of the made faxes; makes them the first time.
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vmail-fax-tiffs");
        let stamp = dir.join("made-by.sh");
        let done = std::fs::read_to_string(&stamp).is_ok_and(|s| s == SCRIPT)
            && dir.join("manifest").exists();
        if !done {
            let _ = std::fs::remove_dir_all(&dir);
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make-faxes.sh");
            let status = Command::new("bash")
                .arg(&script)
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success(), "{} failed: {status}", script.display());
            std::fs::write(&stamp, SCRIPT).unwrap();
        }
        dir
    })
}

/// Every fax of the manifest.
pub fn faxes() -> Vec<Fax> {
    let dir = dir();
    std::fs::read_to_string(dir.join("manifest"))
        .unwrap()
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Fax {
                tiff: dir.join(fields[0]),
                pages: fields[1].parse().unwrap(),
                source: dir.join(fields[2]),
            }
        })
        .collect()
}

/// A binary PBM (P4): width, height and the rows, each padded to a byte.
#[derive(PartialEq, Eq)]
pub struct Pbm {
    pub width: usize,
    pub height: usize,
    pub rows: Vec<u8>,
}

impl std::fmt::Debug for Pbm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PBM {} × {}", self.width, self.height)
    }
}

impl Pbm {
    pub fn read(path: &Path) -> Pbm {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // "P4", whitespace, width, whitespace, height, one whitespace, bits.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 3 {
            while bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if bytes[at] == b'#' {
                while bytes[at] != b'\n' {
                    at += 1;
                }
                continue;
            }
            let start = at;
            while !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
        }
        assert_eq!(fields[0], "P4", "{}", path.display());
        let width: usize = fields[1].parse().unwrap();
        let height: usize = fields[2].parse().unwrap();
        let mut rows = bytes[at + 1..].to_vec();
        let stride = width.div_ceil(8);
        assert_eq!(rows.len(), stride * height, "{}", path.display());
        // Padding bits are anyone's: clear them.
        if !width.is_multiple_of(8) {
            let mask = 0xffu8 << (8 - width % 8);
            for row in rows.chunks_mut(stride) {
                row[stride - 1] &= mask;
            }
        }
        Pbm {
            width,
            height,
            rows,
        }
    }

    /// The first pixel (x, y) where two bitmaps differ.
    pub fn first_difference(&self, other: &Pbm) -> Option<(usize, usize)> {
        let stride = self.width.div_ceil(8);
        let at = self
            .rows
            .iter()
            .zip(&other.rows)
            .position(|(a, b)| a != b)?;
        let bits = self.rows[at] ^ other.rows[at];
        Some((
            (at % stride) * 8 + bits.leading_zeros() as usize,
            at / stride,
        ))
    }
}
