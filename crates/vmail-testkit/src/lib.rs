//! Test support shared by the integration tests of every vmail crate.
//!
//! - [`servers`]: the private Postfix + Dovecot instances that `tests/servers/`
//!   starts on loopback ports, described by the file that names them.
//! - [`fault`]: a small SMTP server of our own that misbehaves on demand
//!   (421 banner, silence, 451 on MAIL, a drop in DATA, ...).
#![forbid(unsafe_code)]

pub mod fault;
pub mod servers;
