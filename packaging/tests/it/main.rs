//! The tests of vmail's packages and systemd unit, one test crate with a
//! module each (as every package of the workspace has):
//!
//! - `deb`: the Debian package's files, control data and maintainer
//!   scripts, installed on this machine and purged (as root);
//! - `rpm`: the RPM's metadata, files and scriptlets, installed into an
//!   overlay (as root);
//! - `target_dir`: both build scripts follow `CARGO_TARGET_DIR`;
//! - `unit`: `systemd/vmaild.service` verified, rated, its system call
//!   filter checked with strace, and run under systemd in systemd-nspawn.
//!
//! Tests that change this machine (installing the .deb) take a lock file
//! that is machine-wide, so they never overlap, whatever runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod deb;
mod rpm;
mod target_dir;
mod unit;
