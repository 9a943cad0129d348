//! Why one value is wrong, as data: every parser of a key's value returns
//! an [`Invalid`], and the text an administrator reads after `[SECTION]
//! key: ` is its `Display`, rendered only where the diagnostic is made.

use crate::values::{BOOL_ALLOWED, DURATION_ALLOWED, SIZE_ALLOWED};
use std::io;
use std::path::PathBuf;
use thiserror::Error;
use vmail_core::{AuthType, Fingerprint, OAuthGrant, OAuthProvider, TlsMode, TlsVersion};

#[derive(Debug, Error)]
pub(crate) enum Invalid {
    #[error("\"{value}\" is not a boolean ({BOOL_ALLOWED})")]
    Boolean { value: String },
    #[error("\"{value}\" is not a port (1-65535)")]
    Port { value: String },
    #[error("\"{value}\" is not a duration ({DURATION_ALLOWED})")]
    Duration { value: String },
    #[error("\"{value}\" is zero (a duration of 1s or more)")]
    ZeroDuration { value: String },
    #[error("\"{value}\" is not a delay (milliseconds, or a number with ms or s: 300, 300ms, 1s)")]
    Delay { value: String },
    #[error("\"{value}\" is not a size ({SIZE_ALLOWED})")]
    Size { value: String },
    #[error("\"{value}\" is zero (a size of 1 byte or more)")]
    ZeroSize { value: String },
    #[error("\"{value}\" is not a whole number of {min} or more")]
    Count { value: String, min: usize },
    #[error("\"{value}\" is not an email address (user@domain)")]
    Address { value: String },
    #[error("\"{value}\" is not a domain (a domain name such as example.com, without @)")]
    Domain { value: String },
    /// A host with a port after it: the port has its own key.
    #[error(
        "\"{value}\" is not a host name (a host name or IP address; the port goes in mail-port; file:DIR captures mail into DIR)"
    )]
    HostWithPort { value: String },
    #[error(
        "\"{value}\" is not a host name (a host name or IP address, or file:DIR to capture mail into DIR)"
    )]
    Host { value: String },
    #[error(
        "has an empty entry in \"{list}\" (a comma-separated list of servers: host, host:port or [IPv6]:port)"
    )]
    EmptyServer { list: String },
    #[error("\"{server}\": \"{port}\" is not a port (1-65535)")]
    ServerPort { server: String, port: String },
    #[error(
        "\"{value}\" has a \"[\" without its \"]\" (an IPv6 address with a port is written [2001:db8::25]:587)"
    )]
    UnclosedBracket { value: String },
    #[error(
        "\"{value}\" has a \"]\" without its \"[\" (an IPv6 address with a port is written [2001:db8::25]:587)"
    )]
    UnopenedBracket { value: String },
    #[error(
        "\"{value}\": only an IPv6 address goes in brackets, then nothing or :port ([2001:db8::25]:587)"
    )]
    NotIpv6InBrackets { value: String },
    #[error(
        "\"{value}\" is not a debug level (0 quiet, 1 attempts and replies, 2 full transcript)"
    )]
    DebugLevel { value: String },
    #[error(
        "\"{value}\" is not a way to attach a fax ({})",
        vmail_core::AttachAs::ALLOWED
    )]
    AttachAs { value: String },
    #[error("\"{value}\" is not a TLS mode ({})", TlsMode::ALLOWED)]
    TlsMode { value: String },
    #[error("\"{value}\" is not a TLS version ({})", TlsVersion::ALLOWED)]
    TlsVersion { value: String },
    #[error(
        "\"{value}\" is not a certificate fingerprint ({})",
        Fingerprint::ALLOWED
    )]
    Fingerprint { value: String },
    #[error("\"{list}\" has an empty entry ({})", Fingerprint::ALLOWED)]
    EmptyFingerprint { list: String },
    #[error("\"{value}\" is not an auth type ({})", AuthType::ALLOWED)]
    AuthType { value: String },
    #[error("\"{value}\" is not a HELO name (a host name, without spaces)")]
    HeloName { value: String },
    /// `dsn-notify` or `dsn-return`: the words are vmail-core's.
    #[error(transparent)]
    Dsn(#[from] vmail_core::DsnError),
    #[error("\"{value}\" is not an OAuth provider ({})", OAuthProvider::ALLOWED)]
    OAuthProvider { value: String },
    #[error("\"{value}\" is not an OAuth grant ({})", OAuthGrant::ALLOWED)]
    OAuthGrant { value: String },
    #[error("\"{value}\" is not a list of scopes (scopes separated by spaces)")]
    Scopes { value: String },
    #[error(
        "\"{value}\" is not a tenant (the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com)"
    )]
    Tenant { value: String },
    #[error("\"{value}\" is not a client ID (no spaces)")]
    ClientId { value: String },
    #[error("\"{value}\" is not a URL (https://host/path)")]
    Url { value: String },
    #[error(
        "\"{value}\" is not HTTPS: tokens and secrets would cross the network in clear (https://...; http:// only on a loopback address such as 127.0.0.1)"
    )]
    UrlInClear { value: String },
    #[error("cannot read {}: {source}", path.display())]
    KeyFileUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a file (the service account's JSON key)", path.display())]
    KeyFileNotAFile { path: PathBuf },
    #[error(
        "{0} may be read or written by group or others (mode {mode:04o}), so vmail refuses it (run `chmod 600 {0}`)",
        path.display()
    )]
    KeyFileShared { path: PathBuf, mode: u32 },
    /// The message never quotes the file's contents.
    #[error(
        "{} is not a service account key (JSON with client_email and private_key, as the Google Cloud console downloads it)",
        path.display()
    )]
    NotAServiceAccountKey { path: PathBuf },
    #[error("cannot read {}: {source} ({})", path.display(), kind.what())]
    PemUnreadable {
        path: PathBuf,
        kind: PemKind,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a file ({})", path.display(), kind.what())]
    PemNotAFile { path: PathBuf, kind: PemKind },
    /// The message never quotes the file's contents.
    #[error("{} holds no {} ({})", path.display(), kind.noun(), kind.what())]
    PemWithoutLabel { path: PathBuf, kind: PemKind },
}

/// Which of the client certificate's two PEM files is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PemKind {
    Certificate,
    PrivateKey,
}

impl PemKind {
    /// What the file should be, for the end of a message.
    pub(crate) fn what(self) -> &'static str {
        match self {
            PemKind::Certificate => "a PEM file with the client certificate",
            PemKind::PrivateKey => "a PEM file with the certificate's private key",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            PemKind::Certificate => "PEM certificate",
            PemKind::PrivateKey => "PEM private key",
        }
    }

    /// The end of the PEM label: `CERTIFICATE-----`, or
    /// `PRIVATE KEY-----` for PKCS#8, RSA and EC keys alike.
    pub(crate) fn label(self) -> &'static str {
        match self {
            PemKind::Certificate => "-----BEGIN CERTIFICATE-----",
            PemKind::PrivateKey => "PRIVATE KEY-----",
        }
    }
}
