//! Fax TIFF attachments sent as PDF (`[VMAIL] fax-attach-as = pdf`, a
//! `.job`'s `attach-as = pdf`, `vfx --pdf`): each TIFF becomes one PDF
//! (`name.tif` → `name.pdf`) through `vmail-fax`. A TIFF that cannot be
//! converted stays attached as it came, and the reason goes to the job log
//! and, as one line, into the message's text: the fax is never lost.

use crate::mime::Attachment;

/// What became of one TIFF attachment.
#[derive(Debug)]
pub enum FaxOutcome {
    /// Sent as `pdf`, `pages` pages (`reencoded` of them decoded and
    /// re-encoded as Group 4, the others carried as they were).
    Converted {
        tiff: String,
        pdf: String,
        pages: usize,
        reencoded: usize,
    },
    /// Sent as the TIFF it was.
    Kept {
        tiff: String,
        why: vmail_fax::FaxError,
    },
}

impl FaxOutcome {
    /// The job log's words for it.
    pub fn log_line(&self) -> String {
        match self {
            FaxOutcome::Converted {
                tiff,
                pdf,
                pages,
                reencoded,
            } => {
                let how = match reencoded {
                    0 => String::new(),
                    n => format!(", {n} re-encoded as Group 4"),
                };
                format!("{tiff} attached as {pdf} ({pages} page(s){how})")
            }
            FaxOutcome::Kept { tiff, why } => {
                format!("{tiff} attached as TIFF: it could not be converted to PDF: {why}")
            }
        }
    }

    /// The line the message's text gains, for a TIFF that was kept.
    pub fn body_line(&self) -> Option<String> {
        match self {
            FaxOutcome::Converted { .. } => None,
            FaxOutcome::Kept { tiff, why } => Some(format!(
                "{tiff} is attached as it was received (TIFF): it could not be converted to PDF: {why}"
            )),
        }
    }
}

/// Whether `attachment` is a TIFF: by its type (from its name) or its bytes.
fn is_tiff(attachment: &Attachment) -> bool {
    attachment.mime == "image/tiff" || vmail_fax::looks_like_tiff(&attachment.bytes)
}

/// `fax.tif` → `fax.pdf`; a name without `.tif`/`.tiff` gains `.pdf`.
fn pdf_name(tiff: &str) -> String {
    let lower = tiff.to_ascii_lowercase();
    let stem = [".tiff", ".tif"]
        .iter()
        .find(|suffix| lower.ends_with(*suffix))
        .map_or(tiff, |suffix| &tiff[..tiff.len() - suffix.len()]);
    format!("{stem}.pdf")
}

/// Replaces every TIFF among `attachments` by its PDF, in place; returns
/// what became of each TIFF, in order (nothing for the other files).
pub fn attach_faxes_as_pdf(attachments: &mut [Attachment]) -> Vec<FaxOutcome> {
    let mut outcomes = Vec::new();
    for attachment in attachments.iter_mut().filter(|a| is_tiff(a)) {
        let tiff = attachment.name.clone();
        match vmail_fax::tiff_to_pdf(&attachment.bytes) {
            Ok(converted) => {
                let pdf = pdf_name(&tiff);
                *attachment = Attachment {
                    name: pdf.clone(),
                    mime: "application/pdf".into(),
                    bytes: converted.pdf,
                };
                outcomes.push(FaxOutcome::Converted {
                    tiff,
                    pdf,
                    pages: converted.pages,
                    reencoded: converted.reencoded,
                });
            }
            Err(why) => outcomes.push(FaxOutcome::Kept { tiff, why }),
        }
    }
    outcomes
}

/// `text` with a line for each TIFF that was kept, after a blank line.
pub fn with_body_lines(mut text: String, outcomes: &[FaxOutcome]) -> String {
    let lines: Vec<String> = outcomes.iter().filter_map(FaxOutcome::body_line).collect();
    if lines.is_empty() {
        return text;
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.is_empty() {
        text.push('\n');
    }
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn attachment(name: &str, mime: &str, bytes: &[u8]) -> Attachment {
        Attachment {
            name: name.into(),
            mime: mime.into(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn pdf_names_replace_the_tiff_suffix() {
        assert_eq!(pdf_name("fax.tif"), "fax.pdf");
        assert_eq!(pdf_name("Fax 12.TIFF"), "Fax 12.pdf");
        assert_eq!(pdf_name("scan"), "scan.pdf");
    }

    #[test]
    fn a_damaged_tiff_is_kept_with_its_reason_and_other_files_are_left_alone() {
        let mut list = vec![
            attachment("notes.txt", "text/plain; charset=utf-8", b"II*\0 but text"),
            attachment("fax.tif", "image/tiff", b"II*\0\xff\xff\xff\xff"),
        ];
        // notes.txt starts like a TIFF: by its bytes it is one, and fails.
        let outcomes = attach_faxes_as_pdf(&mut list);
        assert_eq!(outcomes.len(), 2);
        assert_eq!(list[1].name, "fax.tif");
        assert_eq!(list[1].bytes, b"II*\0\xff\xff\xff\xff");
        let line = outcomes[1].log_line();
        assert!(
            line.starts_with("fax.tif attached as TIFF: it could not be converted to PDF: not a readable TIFF file: "),
            "{line}"
        );
        let text = with_body_lines("Hello".into(), &outcomes[1..]);
        assert!(text.starts_with("Hello\n\nfax.tif is attached as it was received (TIFF): it could not be converted to PDF: "), "{text}");

        let mut plain = vec![attachment("a.pdf", "application/pdf", b"%PDF-1.4")];
        assert!(attach_faxes_as_pdf(&mut plain).is_empty());
        assert_eq!(with_body_lines("x\n".into(), &[]), "x\n");
    }
}
