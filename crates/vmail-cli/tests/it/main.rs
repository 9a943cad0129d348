//! vmail-cli's integration tests, one module per behaviour: the real
//! `vfx`, `vfxadmin`, `vmail-sendmail`, `vmail-postdrop` and
//! `vmail-docgen` binaries on a temp configuration, against the fault
//! server and the private Postfix, Dovecot and token service of
//! `tests/run.sh`. One test binary, so the suite links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_fault_auth;
mod check_fault_ehlo;
mod check_fault_greeting;
mod check_fault_send_test;
mod check_fault_tls_and_not_smtp;
mod check_real;
mod check_support;
mod check_two_servers;
mod check_without_a_server;
mod common;
mod config;
mod docgen_writes_man_pages_and_completions;
mod local_names_are_rewritten;
mod local_user_submits;
mod mailx_through_the_shim;
mod man_pages_name_only_pages_that_exist;
mod queue_changes_are_logged_with_who_made_them;
mod sendmail_shim;
mod vfx_cover_pages_and_attachments_read_right;
mod vfx_pdf_sends_faxes_as_pdf;
mod vfx_submits;
mod vfx_to_vmaild;
mod vfxadmin_oauth;
mod vfxadmin_quarantine;
mod vfxadmin_queue;
mod vfxadmin_status;
mod vfxadmin_template;
