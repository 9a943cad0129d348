//! How a job's fax images are attached.

use std::fmt;

/// How the TIFF attachments of a job are sent: as they are, or each as one
/// PDF (`[VMAIL] fax-attach-as`, a `.job`'s `attach-as`, `vfx --pdf`).
/// Most people cannot open a fax TIFF on a phone; every PDF reader shows
/// the PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttachAs {
    /// As the TIFF it is (the default: nothing changes unless asked).
    #[default]
    Tiff,
    /// Converted to PDF, losslessly (`vmail-fax`).
    Pdf,
}

impl AttachAs {
    pub const ALLOWED: &'static str = "pdf, tiff";

    pub fn parse(value: &str) -> Option<AttachAs> {
        match value.trim().to_ascii_lowercase().as_str() {
            "pdf" => Some(AttachAs::Pdf),
            "tiff" | "tif" => Some(AttachAs::Tiff),
            _ => None,
        }
    }
}

impl fmt::Display for AttachAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachAs::Tiff => "tiff",
            AttachAs::Pdf => "pdf",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(AttachAs::parse(" PDF "), Some(AttachAs::Pdf));
        assert_eq!(AttachAs::parse("tif"), Some(AttachAs::Tiff));
        assert_eq!(AttachAs::parse("png"), None);
        assert_eq!(AttachAs::default().to_string(), "tiff");
    }
}
