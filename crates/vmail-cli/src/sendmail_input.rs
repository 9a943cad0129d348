//! The message a sendmail caller writes on standard input, read up to the
//! end (or, without `-i`, a line holding a single dot). Splitting it into
//! header and body, removing Bcc and adding the missing fields are
//! `vmail-message`'s (`header::split`, `fields::added_fields`).

use std::io::{BufRead, Read};

/// What went wrong with the input.
#[derive(Debug, PartialEq, Eq)]
pub enum InputError {
    /// Bigger than the limit: the size read so far (at least limit + 1).
    TooLarge {
        limit: u64,
    },
    Io(String),
}

/// Reads the message from `input`. Without `ignore_dots`, a line that is
/// a single `.` ends it (the rest is not read), as in sendmail.
pub fn read_message(
    input: &mut impl BufRead,
    ignore_dots: bool,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    let mut message = Vec::new();
    if ignore_dots {
        input
            .take(limit.saturating_add(1))
            .read_to_end(&mut message)
            .map_err(|e| InputError::Io(e.to_string()))?;
    } else {
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = input
                .read_until(b'\n', &mut line)
                .map_err(|e| InputError::Io(e.to_string()))?;
            if n == 0 || line == b".\n" || line == b".\r\n" || line == b"." {
                break;
            }
            message.extend_from_slice(&line);
            if message.len() as u64 > limit {
                break;
            }
        }
    }
    if message.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_dot_ends_the_message_unless_dots_are_ignored() {
        let text = "Subject: x\n\none\n.\ntwo\n";
        let read = read_message(&mut text.as_bytes(), false, 1000).unwrap();
        assert_eq!(read, b"Subject: x\n\none\n");
        let read = read_message(&mut text.as_bytes(), true, 1000).unwrap();
        assert_eq!(read, text.as_bytes());
        assert_eq!(
            read_message(&mut text.as_bytes(), true, 5).unwrap_err(),
            InputError::TooLarge { limit: 5 }
        );
    }
}
