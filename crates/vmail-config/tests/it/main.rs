//! vmail-config's integration tests, one module per subject: loading and
//! validating a vsisrv.ini (every error text an administrator reads),
//! editing it in place, sealed secrets, the OAuth keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod edit;
mod load;
mod mail_servers;
mod oauth;
mod secrets;
mod tls_keys;
