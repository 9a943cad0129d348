//! Reading a value twice without echo (`vfxadmin config -p`).
//!
//! On a terminal the value and its confirmation are asked for with the echo
//! off. When standard input is not a terminal they are its first two lines,
//! so that scripts and tests can drive the command.

use std::io::{self, BufRead, IsTerminal};
use vmail_core::Secret;

/// Why no value was read. Never holds what was typed.
#[derive(Debug, PartialEq, Eq)]
pub enum PromptError {
    Mismatch,
    Empty,
    Short,
    Io(String),
}

impl std::fmt::Display for PromptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PromptError::Mismatch => "the two entries differ; nothing was written",
            PromptError::Empty => "the value is empty; nothing was written",
            PromptError::Short => {
                "standard input ended before the value and its confirmation (two lines); nothing was written"
            }
            PromptError::Io(e) => return write!(f, "cannot read the value: {e}"),
        })
    }
}

impl std::error::Error for PromptError {}

/// Asks for `label` twice: on the terminal without echo, else from stdin.
pub fn read_twice(label: &str) -> Result<Secret, PromptError> {
    let io_err = |e: io::Error| PromptError::Io(e.to_string());
    if io::stdin().is_terminal() {
        let first = Secret::new(rpassword::prompt_password(format!("{label}: ")).map_err(io_err)?);
        let second =
            Secret::new(rpassword::prompt_password(format!("{label} again: ")).map_err(io_err)?);
        confirm(first, second)
    } else {
        from_lines(io::stdin().lock())
    }
}

/// The value and its confirmation as the first two lines of `input`.
pub fn from_lines(mut input: impl BufRead) -> Result<Secret, PromptError> {
    let first = next_line(&mut input)?;
    let second = next_line(&mut input)?;
    confirm(first, second)
}

/// One line without its line break. The buffer becomes a [`Secret`] at
/// once, so it is zeroed whatever happens.
fn next_line(input: &mut impl BufRead) -> Result<Secret, PromptError> {
    let mut buf = String::new();
    let read = input.read_line(&mut buf);
    let raw = Secret::new(buf);
    match read {
        Ok(0) => return Err(PromptError::Short),
        Ok(_) => {}
        Err(e) => return Err(PromptError::Io(e.to_string())),
    }
    let text = raw.expose();
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    Ok(Secret::new(text))
}

fn confirm(first: Secret, second: Secret) -> Result<Secret, PromptError> {
    if first != second {
        Err(PromptError::Mismatch)
    } else if first.is_empty() {
        Err(PromptError::Empty)
    } else {
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_equal_lines_give_the_value() {
        let value = from_lines("u:pa ss\r\nu:pa ss\n".as_bytes()).unwrap();
        assert_eq!(value.expose(), "u:pa ss");
        let value = from_lines("x\nx".as_bytes()).unwrap();
        assert_eq!(value.expose(), "x");
    }

    #[test]
    fn a_mismatch_a_short_input_and_an_empty_value_are_refused() {
        assert_eq!(
            from_lines("a\nb\n".as_bytes()).unwrap_err(),
            PromptError::Mismatch
        );
        assert_eq!(
            from_lines("a\n".as_bytes()).unwrap_err(),
            PromptError::Short
        );
        assert_eq!(from_lines("".as_bytes()).unwrap_err(), PromptError::Short);
        assert_eq!(
            from_lines("\n\n".as_bytes()).unwrap_err(),
            PromptError::Empty
        );
        assert_eq!(
            PromptError::Mismatch.to_string(),
            "the two entries differ; nothing was written"
        );
    }
}
