//! vmail-testkit's own tests: the private Postfix, Dovecot and token
//! service that `tests/run.sh` starts answer as the other crates' tests
//! expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oauth_servers_answer;
mod real_servers_answer;
