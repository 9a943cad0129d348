//! The validated settings of the mail server connection. `vmail-config`
//! produces them from `[VMAIL]`; `vmail-smtp` consumes them. Keeping them here
//! lets both crates agree on one type without depending on each other.

use crate::oauth::OAuthSettings;
use crate::secret::Secret;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the SMTP connection is encrypted (`[VMAIL] tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text; AUTH only with `allow-plaintext-auth=yes`.
    None,
    /// STARTTLS whenever the server offers it, plain text otherwise.
    Opportunistic,
    /// STARTTLS required: a server that does not offer it is an error.
    StartTls,
    /// TLS before the greeting (port 465, "SMTPS").
    Implicit,
}

impl TlsMode {
    pub const ALLOWED: &'static str = "none, opportunistic, starttls, implicit";

    pub fn parse(value: &str) -> Option<TlsMode> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" | "off" | "no" => Some(TlsMode::None),
            "opportunistic" => Some(TlsMode::Opportunistic),
            "starttls" => Some(TlsMode::StartTls),
            "implicit" | "smtps" | "ssl" => Some(TlsMode::Implicit),
            _ => None,
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::None => "none",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "implicit",
        })
    }
}

/// The SMTP AUTH mechanism (`[VMAIL] auth-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// Never authenticate.
    None,
    /// Pick one the server offers (over TLS PLAIN, LOGIN, CRAM-MD5; in plain
    /// text, where allowed, CRAM-MD5 first).
    Auto,
    Plain,
    Login,
    CramMd5,
    /// Google's and Microsoft's SASL XOAUTH2 with an OAuth2 access token.
    XOAuth2,
    /// RFC 7628 OAUTHBEARER with an OAuth2 access token.
    OAuthBearer,
}

impl AuthType {
    pub const ALLOWED: &'static str = "none, auto, plain, login, cram-md5, xoauth2, oauthbearer";

    pub fn parse(value: &str) -> Option<AuthType> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Some(AuthType::None),
            "auto" => Some(AuthType::Auto),
            "plain" => Some(AuthType::Plain),
            "login" => Some(AuthType::Login),
            "cram-md5" | "crammd5" | "cram_md5" => Some(AuthType::CramMd5),
            "xoauth2" => Some(AuthType::XOAuth2),
            "oauthbearer" => Some(AuthType::OAuthBearer),
            _ => None,
        }
    }

    /// The name as the server spells it in `250-AUTH ...`, for a fixed choice.
    pub fn sasl_name(&self) -> Option<&'static str> {
        match self {
            AuthType::Plain => Some("PLAIN"),
            AuthType::Login => Some("LOGIN"),
            AuthType::CramMd5 => Some("CRAM-MD5"),
            AuthType::XOAuth2 => Some("XOAUTH2"),
            AuthType::OAuthBearer => Some("OAUTHBEARER"),
            AuthType::None | AuthType::Auto => None,
        }
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthType::None => "none",
            AuthType::Auto => "auto",
            AuthType::Plain => "plain",
            AuthType::Login => "login",
            AuthType::CramMd5 => "cram-md5",
            AuthType::XOAuth2 => "xoauth2",
            AuthType::OAuthBearer => "oauthbearer",
        })
    }
}

/// `[VMAIL] debug`: 0 quiet, 1 attempts and replies, 2 the full redacted
/// SMTP transcript in each job's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DebugLevel {
    Quiet = 0,
    Replies = 1,
    Transcript = 2,
}

/// POP-before-SMTP: some servers (and the devices VSI-FAX talked to) open
/// relaying for an address only after a POP3 login from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopSettings {
    pub host: String,
    pub port: u16,
    /// Implicit TLS (POP3S, port 995) when true.
    pub tls: bool,
    /// The user and the password, split like `auth-rsp`.
    pub responses: Vec<Secret>,
    /// Wait after the POP3 QUIT before opening SMTP (`pop-delay`).
    pub delay: Duration,
}

/// Everything the submitter needs to reach and log in to one mail server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// False only when the administrator turned verification off, loudly.
    pub tls_verify: bool,
    /// Extra trust anchors (PEM), added to the system store.
    pub ca_file: Option<PathBuf>,
    pub helo_name: String,
    pub auth_type: AuthType,
    /// `auth-rsp` already decrypted and split on `auth-delim`: for PLAIN,
    /// LOGIN and CRAM-MD5 the user then the password or shared secret; LOGIN
    /// answers each 334 prompt with the next one.
    pub auth_responses: Vec<Secret>,
    pub allow_plaintext_auth: bool,
    pub pop: Option<PopSettings>,
    /// `[VMAIL] oauth-*`: set when the login is an OAuth2 token (auth-type
    /// xoauth2, oauthbearer, or auto with these keys set). The session gets
    /// its tokens from a [`crate::oauth::TokenSource`] built from these.
    pub oauth: Option<OAuthSettings>,
    /// The bound on every single step: connect, each reply, the data.
    pub timeout: Duration,
}

impl SmtpSettings {
    /// Settings for a server with every optional feature off, as a base for
    /// tests and for tools that fill in the rest.
    pub fn plain(host: impl Into<String>, port: u16) -> Self {
        SmtpSettings {
            host: host.into(),
            port,
            tls: TlsMode::None,
            tls_verify: true,
            ca_file: None,
            helo_name: "localhost".to_string(),
            auth_type: AuthType::None,
            auth_responses: Vec::new(),
            allow_plaintext_auth: false,
            pop: None,
            oauth: None,
            timeout: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_display_canonically() {
        assert_eq!(TlsMode::parse("STARTTLS"), Some(TlsMode::StartTls));
        assert_eq!(TlsMode::parse("tls1.2"), None);
        assert_eq!(AuthType::parse("CRAM-MD5"), Some(AuthType::CramMd5));
        assert_eq!(AuthType::CramMd5.to_string(), "cram-md5");
        assert_eq!(AuthType::Login.sasl_name(), Some("LOGIN"));
        assert_eq!(AuthType::parse("gssapi"), None);
    }
}
