//! Test support shared by the integration tests of every vmail crate.
//!
//! - [`servers`]: the private Postfix + Dovecot instances that `tests/servers/`
//!   starts on loopback ports, described by the file that names them.
//! - [`command`]: a command run with a deadline, its output captured.
//! - [`fault`]: a small SMTP server of our own that misbehaves on demand
//!   (421 banner, silence, 451 on MAIL, a drop in DATA, ...).
//! - [`oauth`]: an OAuth2 token service (token, device and introspection
//!   endpoints, control for tests) that the private Dovecot checks XOAUTH2
//!   and OAUTHBEARER tokens against.
#![forbid(unsafe_code)]

pub mod command;
pub mod fault;
pub mod oauth;
pub mod process;
pub mod servers;
