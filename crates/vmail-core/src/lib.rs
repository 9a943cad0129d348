//! The words every other vmail crate speaks: jobs and envelopes, SMTP replies,
//! delivery outcomes, secrets and the settings of a mail server. Nothing here
//! touches a disk or a socket, so the spool, the submitter and the config
//! crates can share these types without depending on each other.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod backoff;
pub mod dsn;
pub mod fax;
pub mod job;
pub mod oauth;
pub mod outcome;
pub mod reply;
pub mod secret;
pub mod settings;
pub mod unique;

pub use backoff::RetryPolicy;
pub use dsn::{Dsn, DsnError, DsnNotify, DsnReturn};
pub use fax::AttachAs;
pub use job::{Envelope, InvalidJobId, JobId};
pub use oauth::{
    AccessToken, OAuthGrant, OAuthProvider, OAuthSettings, TokenError, TokenErrorKind, TokenFuture,
    TokenSource,
};
pub use outcome::Outcome;
pub use reply::{EnhancedCode, Reply};
pub use secret::Secret;
pub use settings::{
    AuthType, ClientCertificate, DebugLevel, Fingerprint, MailServer, PopSettings, SmtpSettings,
    TlsMode, TlsVersion,
};
