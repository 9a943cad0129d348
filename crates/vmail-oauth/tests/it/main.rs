//! vmail-oauth against a token endpoint on 127.0.0.1: one behaviour per
//! module.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache_survives_a_restart;
mod device_login;
mod errors_name_the_key_to_fix;
mod helpers;
mod many_sessions_one_request;
mod refresh_before_expiry;
mod rotation_saved_before_use;
mod server;
mod service_account_assertion;
mod tls_trusts_ca_file;
