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

/// The oldest TLS version vmail accepts (`[VMAIL] tls-min-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3 (the default: every current server speaks one).
    #[default]
    V1_2,
    /// TLS 1.3 only.
    V1_3,
}

impl TlsVersion {
    pub const ALLOWED: &'static str = "1.2 or 1.3";

    pub fn parse(value: &str) -> Option<TlsVersion> {
        let value = value.trim().to_ascii_lowercase();
        let number = value
            .strip_prefix("tlsv")
            .or_else(|| value.strip_prefix("tls"))
            .unwrap_or(&value);
        match number {
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        })
    }
}

/// A certificate pin (`[VMAIL] tls-fingerprint`): the SHA-256 of the
/// server certificate's DER bytes, written `sha256:<64 hex digits>` (the
/// colon-separated form `openssl x509 -fingerprint -sha256` prints is
/// accepted too).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub const ALLOWED: &'static str =
        "sha256: and 64 hex digits, as `vfxadmin check` shows them; several separated by commas";

    /// `sha256:<hex>`, the hex in any case, with or without colons
    /// between the bytes.
    pub fn parse(value: &str) -> Option<Fingerprint> {
        let (algorithm, hex) = value.trim().split_once(':')?;
        if !algorithm.trim().eq_ignore_ascii_case("sha256") {
            return None;
        }
        let digits: Vec<u8> = hex
            .trim()
            .chars()
            .filter(|&c| c != ':')
            .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
            .collect::<Option<_>>()?;
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (pair[0] << 4) | pair[1];
        }
        Some(Fingerprint(bytes))
    }
}

/// `sha256:` and lowercase hex, ready to paste into `tls-fingerprint`.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The certificate vmail presents to servers that accept a client by it
/// (`[VMAIL] tls-cert-file` and `tls-key-file`, both PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate, then any intermediates.
    pub cert_file: PathBuf,
    /// The private key, readable by its owner only.
    pub key_file: PathBuf,
}

/// One entry of `[VMAIL] mail-server`: a host name or IP address, and the
/// port to reach it on (its own, or `mail-port`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailServer {
    pub host: String,
    pub port: u16,
}

impl MailServer {
    pub fn new(host: impl Into<String>, port: u16) -> MailServer {
        MailServer {
            host: host.into(),
            port,
        }
    }
}

/// `host:port`, with an IPv6 address in brackets (`[2001:db8::25]:587`), as
/// `mail-server` spells it.
impl fmt::Display for MailServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Everything the submitter needs to reach and log in to the mail servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// The first server of `[VMAIL] mail-server`, tried first.
    pub host: String,
    pub port: u16,
    /// The other servers of `mail-server`, in order: each is tried when the
    /// ones before it cannot take the session (failover). Empty for a
    /// single server.
    pub fallbacks: Vec<MailServer>,
    pub tls: TlsMode,
    /// False only when the administrator turned verification off, loudly.
    pub tls_verify: bool,
    /// Extra trust anchors (PEM), added to the system store.
    pub ca_file: Option<PathBuf>,
    /// Pins (`tls-fingerprint`): when not empty, the server's certificate
    /// must be one of these, and that replaces the CA, name and date checks.
    pub tls_fingerprints: Vec<Fingerprint>,
    /// The client certificate, for servers that accept a client by it.
    pub client_certificate: Option<ClientCertificate>,
    pub tls_min_version: TlsVersion,
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
    /// `[VMAIL] dsn-notify` and `dsn-return`: the DSN request of a job
    /// that makes none of its own (RFC 3461; sent only when offered).
    pub dsn: crate::dsn::Dsn,
}

impl SmtpSettings {
    /// Settings for a server with every optional feature off, as a base for
    /// tests and for tools that fill in the rest.
    pub fn plain(host: impl Into<String>, port: u16) -> Self {
        SmtpSettings {
            host: host.into(),
            port,
            fallbacks: Vec::new(),
            tls: TlsMode::None,
            tls_verify: true,
            ca_file: None,
            tls_fingerprints: Vec::new(),
            client_certificate: None,
            tls_min_version: TlsVersion::V1_2,
            helo_name: "localhost".to_string(),
            auth_type: AuthType::None,
            auth_responses: Vec::new(),
            allow_plaintext_auth: false,
            pop: None,
            oauth: None,
            timeout: Duration::from_secs(60),
            dsn: crate::dsn::Dsn::default(),
        }
    }

    /// Every server of `mail-server`, in the order they are tried.
    pub fn servers(&self) -> Vec<MailServer> {
        let first = MailServer::new(self.host.clone(), self.port);
        std::iter::once(first)
            .chain(self.fallbacks.iter().cloned())
            .collect()
    }

    /// These settings for `server` alone (no fallbacks), for a tool that
    /// looks at each server in turn.
    pub fn for_server(&self, server: &MailServer) -> SmtpSettings {
        SmtpSettings {
            host: server.host.clone(),
            port: server.port,
            fallbacks: Vec::new(),
            ..self.clone()
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
        assert_eq!(TlsVersion::parse("TLSv1.3"), Some(TlsVersion::V1_3));
        assert_eq!(TlsVersion::parse("1.1"), None);
    }

    #[test]
    fn fingerprints_parse_in_both_spellings_and_display_ready_to_paste() {
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let pin = Fingerprint::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(pin.to_string(), format!("sha256:{hex}"));
        let colons = hex
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(Fingerprint::parse(&format!("SHA256:{colons}")), Some(pin));
        assert_eq!(Fingerprint::parse(hex), None, "the algorithm is named");
        assert_eq!(Fingerprint::parse(&format!("sha1:{hex}")), None);
        assert_eq!(Fingerprint::parse("sha256:9f86"), None, "too short");
        assert_eq!(Fingerprint::parse(&format!("sha256:{hex}0")), None);
        let not_hex = hex.replace('9', "g");
        assert_eq!(Fingerprint::parse(&format!("sha256:{not_hex}")), None);
    }

    #[test]
    fn servers_list_the_first_then_the_fallbacks_and_bracket_ipv6() {
        let mut settings = SmtpSettings::plain("smtp1.example.com", 25);
        settings.fallbacks = vec![
            MailServer::new("smtp2.example.com", 2525),
            MailServer::new("2001:db8::25", 587),
        ];
        let shown: Vec<String> = settings.servers().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            shown,
            [
                "smtp1.example.com:25",
                "smtp2.example.com:2525",
                "[2001:db8::25]:587"
            ]
        );
        let second = settings.for_server(&settings.servers()[1]);
        assert_eq!(
            (second.host.as_str(), second.port),
            ("smtp2.example.com", 2525)
        );
        assert!(second.fallbacks.is_empty());
    }
}
