//! Everything vmail knows about the message itself, in one place, so that
//! `vfx`, the sendmail shim, pickup of `.eml` and `.job` drops, `vfxadmin
//! check --send-test` and the failure notice agree on it:
//!
//! - [`header`]: the header section, split from the body, Bcc removed with
//!   its continuation lines, the Subject read back;
//! - [`envelope`]: the envelope from To, Cc and Bcc, as `sendmail -t` does;
//! - [`address`]: what counts as an address, and why one is refused;
//! - [`stamp`]: the Date and Message-ID a message is given, from the clock
//!   or from a drop file's identity (so a drop queued twice is the same
//!   message twice);
//! - [`fields`]: the From, Date and Message-ID added when a message lacks them;
//! - [`mime`]: the MIME message of `vfx` and of `.job` drops;
//! - [`downgrade`]: an 8-bit message made 7-bit for a server without
//!   8BITMIME;
//! - [`dsn`]: the failure notice, an RFC 3464 delivery status notification;
//! - [`template`]: the notification templates of `.job` drops (minijinja),
//!   read from the templates folder beside the ini;
//! - [`fax`]: fax TIFF attachments sent as PDF (through `vmail-fax`).
//!
//! It depends on `vmail-core` and `vmail-fax` only (and lettre, mail-parser, mime_guess):
//! the spool, the CLI and the daemon depend on it, never the other way.

#![forbid(unsafe_code)]

pub mod address;
pub mod downgrade;
pub mod dsn;
pub mod envelope;
pub mod fax;
pub mod fields;
pub mod header;
pub mod mime;
pub mod stamp;
pub mod template;

pub use address::{AddressError, LocalNames, Rewrite};
pub use downgrade::Downgrade;
pub use dsn::{DsnError, FailureReport, KeptIn, NoticeOrigin, RecipientFate};
pub use envelope::EnvelopeError;
pub use header::{Header, HeaderError, Parts};
pub use mime::{Attachment, Draft, MimeError};
pub use stamp::Stamp;
pub use template::{Rendered, TemplateError, Templates};
