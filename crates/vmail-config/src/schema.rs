//! The sections and keys vmail reads. Anything else is reported as a warning
//! (VSI-FAX files carry keys of other programs; they are not errors).

/// The sections vmail reads, as it names them.
pub const KNOWN_SECTIONS: &[&str] = &["VMAIL", "VFXSCHED"];

pub(crate) const VMAIL_KEYS: &[&str] = &[
    "mail-server",
    "mail-port",
    "tls",
    "tls-verify",
    "ca-file",
    "tls-cert-file",
    "tls-key-file",
    "tls-fingerprint",
    "tls-min-version",
    "helo-name",
    "from",
    "admin-address",
    "local-domain",
    "auth-type",
    "auth-rsp",
    "auth-delim",
    "allow-plaintext-auth",
    "pop-server",
    "pop-port",
    "pop-tls",
    "pop-rsp",
    "pop-delay",
    "timeout",
    "max-connections",
    "retry-min",
    "retry-max",
    "max-lifetime",
    "debug",
    "max-debug-log",
    "max-message-size",
    "fax-attach-as",
    "dsn-notify",
    "dsn-return",
    "key-file",
    "oauth-provider",
    "oauth-grant",
    "oauth-tenant",
    "oauth-client-id",
    "oauth-client-secret",
    "oauth-key-file",
    "oauth-user",
    "oauth-scope",
    "oauth-token-url",
    "oauth-device-url",
    "metrics-listen",
    "metrics-allow-remote",
];

pub(crate) const VFXSCHED_KEYS: &[&str] = &["spool", "debug", "keep-sent"];

/// Keys whose values are secrets: never echoed, sealed with `-e`.
const SECRET_KEYS: &[&str] = &["auth-rsp", "pop-rsp", "oauth-client-secret"];

/// Whether `key` of `section` holds a secret (`[VMAIL] auth-rsp`, `pop-rsp`,
/// `oauth-client-secret`).
pub fn is_secret_key(section: &str, key: &str) -> bool {
    canonical_section(section) == Some("VMAIL")
        && SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// The canonical name of a section (`vmail` -> `VMAIL`), if vmail reads it.
pub(crate) fn canonical_section(name: &str) -> Option<&'static str> {
    KNOWN_SECTIONS
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(name))
}

pub(crate) fn keys_of(section: &str) -> &'static [&'static str] {
    match canonical_section(section) {
        Some("VMAIL") => VMAIL_KEYS,
        Some("VFXSCHED") => VFXSCHED_KEYS,
        _ => &[],
    }
}

/// Whether vmail reads `key` in `section` (both in any case).
pub fn is_known_key(section: &str, key: &str) -> bool {
    keys_of(section).iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// A known key of `section` within two typing mistakes of `key`.
pub(crate) fn closest_key(section: &str, key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    keys_of(section)
        .iter()
        .map(|k| (edit_distance(k, &key), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, for short ASCII names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_in_any_case() {
        assert_eq!(canonical_section("vmail"), Some("VMAIL"));
        assert_eq!(canonical_section("VfxSched"), Some("VFXSCHED"));
        assert_eq!(canonical_section("FAX"), None);
        assert!(is_known_key("vmail", "Auth-Rsp"));
        assert!(is_known_key("VFXSCHED", "keep-sent"));
        assert!(!is_known_key("VFXSCHED", "auth-rsp"));
    }

    #[test]
    fn a_typo_finds_its_key() {
        assert_eq!(closest_key("VMAIL", "mail-prot"), Some("mail-port"));
        assert_eq!(closest_key("VMAIL", "Auth-Resp"), Some("auth-rsp"));
        assert_eq!(closest_key("VMAIL", "colour"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
