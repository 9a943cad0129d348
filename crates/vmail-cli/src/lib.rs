//! vmail's command-line front-ends. The binaries in `src/bin` only call
//! `main` here; each command lives in its own module so that `vfxadmin`'s
//! `queue` and `check` can join `config` as further [`vfxadmin::Command`]s.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config_cmd;
pub mod prompt;
pub mod vfxadmin;
