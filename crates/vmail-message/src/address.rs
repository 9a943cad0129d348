//! What counts as an address. vmail relays to a mail server and has no
//! local mailboxes, so an address without a domain is refused with that
//! reason rather than queued to bounce later, unless the administrator said
//! where local names go ([`LocalNames`]: `[VMAIL] admin-address` and
//! `local-domain`, as nullmailer's `adminaddr` and Postfix's `myorigin`).

use std::fmt;
use std::str::FromStr;

/// lettre's address types, re-exported so that callers name addresses
/// through this crate and need no lettre of their own.
pub use lettre::message::{Mailbox, Mailboxes};

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

/// The address as it goes into `MAIL FROM` and `RCPT TO`: a domain in
/// Unicode becomes its A-label (`ann@bücher.de` goes as
/// `ann@xn--bcher-kva.de`) when the local part is ASCII, so that the
/// address needs no SMTPUTF8. An address with a non-ASCII local part is
/// kept as written (it needs SMTPUTF8 whatever its domain), and so is a
/// domain that is not valid IDNA (the server says what it makes of it).
pub fn wire_form(address: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if address.is_ascii() {
        return Cow::Borrowed(address);
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Cow::Borrowed(address);
    };
    if !local.is_ascii() {
        return Cow::Borrowed(address);
    }
    match idna::domain_to_ascii(domain) {
        Ok(ascii) => Cow::Owned(format!("{local}@{ascii}")),
        Err(_) => Cow::Borrowed(address),
    }
}

/// Whether the address needs SMTPUTF8 (RFC 6531) even in its
/// [`wire_form`].
pub fn needs_smtputf8(address: &str) -> bool {
    !wire_form(address).is_ascii()
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

/// Where names without a domain go (`root`, `www-data`: what cron and
/// mailx address). Both empty: such names are refused, as before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalNames {
    /// `[VMAIL] admin-address`: every recipient without a domain.
    pub admin_address: Option<String>,
    /// `[VMAIL] local-domain`: appended to a bare sender name, and to a
    /// bare recipient name when there is no admin address.
    pub local_domain: Option<String>,
}

/// Which side of the envelope a rewrite touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sender,
    Recipient,
}

/// One local name rewritten. Its `Display` is the job log's line:
/// `recipient root rewritten to admin@example.com ([VMAIL] admin-address)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub role: Role,
    /// The name as given.
    pub name: String,
    /// The address it became.
    pub address: String,
    /// The `[VMAIL]` key that decided it.
    pub key: &'static str,
}

impl fmt::Display for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Sender => "sender",
            Role::Recipient => "recipient",
        };
        write!(
            f,
            "{role} {} rewritten to {} ([VMAIL] {})",
            self.name, self.address, self.key
        )
    }
}

impl LocalNames {
    /// From the two configuration values; empty ones count as unset.
    pub fn new(admin_address: Option<&str>, local_domain: Option<&str>) -> LocalNames {
        let set = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        LocalNames {
            admin_address: set(admin_address),
            local_domain: set(local_domain),
        }
    }

    /// What a sender without a domain becomes: `name@local-domain`.
    pub fn sender(&self, text: &str) -> Option<Rewrite> {
        let name = local_name(text)?;
        let domain = self.local_domain.as_deref()?;
        Some(Rewrite {
            role: Role::Sender,
            name: name.to_string(),
            address: format!("{name}@{domain}"),
            key: "local-domain",
        })
    }

    /// What a recipient without a domain becomes: the admin address, else
    /// `name@local-domain`.
    pub fn recipient(&self, text: &str) -> Option<Rewrite> {
        let name = local_name(text)?;
        let (address, key) = match (&self.admin_address, &self.local_domain) {
            (Some(admin), _) => (admin.clone(), "admin-address"),
            (None, Some(domain)) => (format!("{name}@{domain}"), "local-domain"),
            (None, None) => return None,
        };
        Some(Rewrite {
            role: Role::Recipient,
            name: name.to_string(),
            address,
            key,
        })
    }
}

/// The name of an address without a domain (`root`, `Cron <root>`), or
/// `None` when it has one, is empty (the null sender stays null), or is
/// not a plain user name (letters, digits, `.`, `_`, `-`, `+`): a stray
/// piece of a display name is refused by the address check, not sent to
/// the administrator.
pub fn local_name(text: &str) -> Option<&str> {
    let name = bare(text).trim();
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
    (!name.is_empty() && plain).then_some(name)
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
    fn utf8_addresses_are_accepted_and_idna_domains_go_as_a_labels() {
        assert_eq!(check("Jörg <jörg@example.de>").unwrap(), "jörg@example.de");
        assert_eq!(check("用户@例子.广告").unwrap(), "用户@例子.广告");
        assert_eq!(check("ann@bücher.de").unwrap(), "ann@bücher.de");
        assert_eq!(wire_form("ann@bücher.de"), "ann@xn--bcher-kva.de");
        assert_eq!(wire_form("ann@BÜCHER.de"), "ann@xn--bcher-kva.de");
        assert_eq!(wire_form("jörg@bücher.de"), "jörg@bücher.de");
        assert_eq!(wire_form("a@x.test"), "a@x.test");
        assert!(!needs_smtputf8("ann@bücher.de"));
        assert!(needs_smtputf8("jörg@example.de"));
        assert!(needs_smtputf8("用户@例子.广告"));
        assert!(!needs_smtputf8(""));
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

    #[test]
    fn local_names_go_where_the_configuration_says() {
        let none = LocalNames::default();
        assert_eq!(none.recipient("root"), None);
        assert_eq!(none.sender("root"), None);
        let both = LocalNames::new(Some("admin@example.com"), Some("host.example.com"));
        assert_eq!(
            both.recipient("root").unwrap().to_string(),
            "recipient root rewritten to admin@example.com ([VMAIL] admin-address)"
        );
        assert_eq!(
            both.sender("Cron Daemon <cron>").unwrap().to_string(),
            "sender cron rewritten to cron@host.example.com ([VMAIL] local-domain)"
        );
        assert_eq!(both.recipient("ann@x.test"), None);
        assert_eq!(both.sender(""), None);
        assert_eq!(both.recipient("\"Doe"), None);
        let domain = LocalNames::new(Some(""), Some("host.example.com"));
        assert_eq!(
            domain.recipient("root").unwrap().to_string(),
            "recipient root rewritten to root@host.example.com ([VMAIL] local-domain)"
        );
        let admin = LocalNames::new(Some("admin@example.com"), None);
        assert_eq!(admin.sender("root"), None);
    }
}
