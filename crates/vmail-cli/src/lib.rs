//! vmail's command-line front-ends. The binaries in `src/bin` only call
//! `main` here; each command lives in its own module:
//!
//! * `vfx` ([`vfx`]): queue a job, with [`compose`] (the MIME message) and
//!   [`cover`] (cover page templates);
//! * `vfxadmin` ([`vfxadmin`]): `config` ([`config_cmd`]), `queue`
//!   ([`queue_cmd`], with [`finished`] for jobs in `sent/` and `failed/`),
//!   `quarantine` ([`quarantine_cmd`]: the files pickup set aside),
//!   `check` ([`check`]: the mail server, step by step), `oauth`
//!   ([`oauth_cmd`]: login, status and forget of the OAuth2 tokens) and
//!   `template` ([`template_cmd`]: render or list the notification
//!   templates of `.job` drops);
//! * `vmail-sendmail` ([`sendmail`]): the sendmail-compatible shim;
//! * `vmail-postdrop` ([`postdrop`]): the setgid helper through which users
//!   who cannot write the spool submit ([`local_submit`] picks the way);
//! * `vmail-docgen` ([`docgen`]): man pages and shell completions.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod check;
pub mod compose;
pub mod config_cmd;
pub mod cover;
pub mod docgen;
pub mod finished;
pub mod local_submit;
pub mod oauth_cmd;
pub mod postdrop;
pub mod prompt;
pub mod quarantine_cmd;
pub mod queue_cmd;
pub mod sendmail;
pub mod sendmail_input;
pub mod setup;
pub mod status_cmd;
pub mod template_cmd;
pub mod vfx;
pub mod vfxadmin;
