//! The message body on its way to DATA: read in chunks, line ends made CRLF
//! (a bare LF or a bare CR becomes CRLF), lines starting with `.` stuffed, a
//! final line end added when the body lacks one, then `.` CRLF.

/// The streaming encoder; its state crosses chunk boundaries.
#[derive(Debug, Clone)]
pub(crate) struct DotStuffer {
    at_line_start: bool,
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            at_line_start: true,
            pending_cr: false,
        }
    }
}

impl DotStuffer {
    /// Encodes one chunk of the body, appending to `out`.
    pub fn encode(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len() + chunk.len() / 32 + 4);
        for &byte in chunk {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                self.at_line_start = true;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.at_line_start = true;
                }
                _ => {
                    if self.at_line_start && byte == b'.' {
                        out.push(b'.');
                    }
                    out.push(byte);
                    self.at_line_start = false;
                }
            }
        }
    }

    /// Ends the body: the last line end when missing, then the lone dot.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        self.pending_cr = false;
        self.at_line_start = true;
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(chunks: &[&[u8]]) -> Vec<u8> {
        let mut encoder = DotStuffer::default();
        let mut out = Vec::new();
        for chunk in chunks {
            encoder.encode(chunk, &mut out);
        }
        encoder.finish(&mut out);
        out
    }

    #[test]
    fn a_line_that_is_just_a_dot_is_doubled() {
        assert_eq!(stuff(&[b"a\r\n.\r\nb\r\n"]), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(stuff(&[b".\n"]), b"..\r\n.\r\n");
        assert_eq!(stuff(&[b"..x\n"]), b"...x\r\n.\r\n");
        assert_eq!(stuff(&[b"a.b\n"]), b"a.b\r\n.\r\n");
    }

    #[test]
    fn a_body_without_a_final_newline_gets_one() {
        assert_eq!(stuff(&[b"no newline"]), b"no newline\r\n.\r\n");
        assert_eq!(stuff(&[b""]), b".\r\n");
        assert_eq!(stuff(&[b"x\r"]), b"x\r\n.\r\n");
    }

    #[test]
    fn bare_lf_and_bare_cr_become_crlf() {
        assert_eq!(stuff(&[b"a\nb\rc\r\n"]), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(stuff(&[b"a\r\rb\n"]), b"a\r\n\r\nb\r\n.\r\n");
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let body = b"Subject: x\n\n.hidden\r\n..\r\nend.\r\n.";
        let whole = stuff(&[body]);
        for split in 0..body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(stuff(&[a, b]), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(stuff(&bytes), whole);
        assert_eq!(
            whole,
            b"Subject: x\r\n\r\n..hidden\r\n...\r\nend.\r\n..\r\n.\r\n".to_vec()
        );
    }
}
