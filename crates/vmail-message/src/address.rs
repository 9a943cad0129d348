//! What counts as an address. vmail relays to a mail server and has no
//! local mailboxes, so an address without a domain is refused with that
//! reason rather than queued to bounce later.

use std::str::FromStr;

use lettre::message::{Mailbox, Mailboxes};

/// Why a text is not an address vmail can use. The texts name the text and
/// read after a word saying which address it was (`recipient`, `-f`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "`{text}` has no domain: vmail relays to a mail server and has no local mailboxes; give user@domain"
    )]
    NoDomain { text: String },
    #[error("`{text}` is not an email address")]
    Invalid { text: String },
    #[error("`{text}` is not a list of addresses")]
    InvalidList { text: String },
}

impl AddressError {
    /// True for an address without a domain (sendmail's EX_NOUSER).
    pub fn is_no_domain(&self) -> bool {
        matches!(self, AddressError::NoDomain { .. })
    }
}

/// The address inside angle brackets (`Ann <a@b>` gives `a@b`), else the
/// text itself.
pub fn bare(text: &str) -> &str {
    match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    }
}

/// A bare address checked for a domain and for its syntax.
pub fn check(text: &str) -> Result<String, AddressError> {
    let address = bare(text);
    if !address.contains('@') {
        return Err(AddressError::NoDomain {
            text: text.to_string(),
        });
    }
    address
        .parse::<lettre::Address>()
        .map(|a| a.to_string())
        .map_err(|_| AddressError::Invalid {
            text: text.to_string(),
        })
}

/// A mailbox (`Ann <a@b>` or `a@b`), for the From and To of a built message.
pub fn mailbox(text: &str) -> Result<Mailbox, AddressError> {
    Mailbox::from_str(text).map_err(|_| AddressError::Invalid {
        text: text.to_string(),
    })
}

/// A comma list of mailboxes from one or more values (a `.job` file's
/// repeated `to =` lines); `None` when there are none.
pub fn mailboxes(values: &[String]) -> Result<Option<Mailboxes>, AddressError> {
    if values.is_empty() {
        return Ok(None);
    }
    let joined = values.join(", ");
    Mailboxes::from_str(&joined)
        .map(Some)
        .map_err(|_| AddressError::InvalidList { text: joined })
}

/// The domain of an address, for Message-IDs; `None` without one.
pub fn domain(address: &str) -> Option<&str> {
    bare(address)
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim())
        .filter(|domain| !domain.is_empty())
}

/// Adds `address` to `list` unless it is there already in another case:
/// a recipient named twice gets the message once.
pub fn push_unique(list: &mut Vec<String>, address: String) {
    if !list
        .iter()
        .any(|known| known.eq_ignore_ascii_case(&address))
    {
        list.push(address);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_are_checked_with_the_reason() {
        assert_eq!(check("Ann <ann@x.test>").unwrap(), "ann@x.test");
        let err = check("root").unwrap_err();
        assert!(err.is_no_domain());
        assert_eq!(
            err.to_string(),
            "`root` has no domain: vmail relays to a mail server and has no local mailboxes; give user@domain"
        );
        assert_eq!(
            check("a@@x").unwrap_err(),
            AddressError::Invalid {
                text: "a@@x".into()
            }
        );
        assert_eq!(
            mailbox("Ann <a@x.test>").unwrap().email.to_string(),
            "a@x.test"
        );
        assert!(mailbox("not an address").is_err());
    }

    #[test]
    fn lists_domains_and_duplicates() {
        let list = mailboxes(&["a@x".into(), "B <b@y>, c@z".into()])
            .unwrap()
            .unwrap();
        assert_eq!(list.iter().count(), 3);
        assert_eq!(mailboxes(&[]).unwrap(), None);
        assert_eq!(
            mailboxes(&["a@x, ,,<".into()]).unwrap_err().to_string(),
            "`a@x, ,,<` is not a list of addresses"
        );
        assert_eq!(domain("Ann <a@x.test>"), Some("x.test"));
        assert_eq!(domain(""), None);
        let mut list = vec!["a@x".to_string()];
        push_unique(&mut list, "A@X".into());
        push_unique(&mut list, "b@x".into());
        assert_eq!(list, ["a@x", "b@x"]);
    }
}
