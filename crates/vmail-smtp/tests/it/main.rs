//! vmail-smtp's integration tests, one module per scenario: the session
//! against the fault-injecting server, and the `real_*` ones against the
//! private Postfix and Dovecot of `tests/run.sh`. One test binary, so the
//! suite links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_login_rejected;
mod body_is_streamed_dot_stuffed;
mod body_read_error_drops_connection;
mod common;
mod ehlo_refused_falls_back_to_helo;
mod failover_to_the_next_server;
mod final_dot_waits_for_the_gate;
mod greeting_421_defers;
mod mail_from_451_defers;
mod missing_body_file_defers;
mod no_auth_offered_sends_unauthenticated;
mod oauth_always_refused_defers_after_two_tries;
mod oauth_auto_prefers_oauthbearer;
mod oauth_long_token_goes_after_334;
mod oauth_refused_token_is_refreshed_once;
mod oauth_token_accepted_delivers;
mod oauth_token_source_failing_defers;
mod one_recipient_refused_fails_alone;
mod only_cram_md5_offered;
mod plaintext_auth_refused;
mod real_8bit_message_with_and_without_8bitmime;
mod real_auth_mechanisms_deliver_over_starttls;
mod real_client_certificate_and_pins;
mod real_dsn_notify_success;
mod real_implicit_tls_delivers;
mod real_no_auth_port_sends_unauthenticated;
mod real_oauth_logins_deliver;
mod real_opportunistic_tls;
mod real_plaintext_auth_port;
mod real_pop_before_smtp;
mod real_rejected_recipient_fails_alone;
mod real_starttls_required_on_plain_port;
mod real_two_messages_one_connection;
mod real_utf8_addresses_need_smtputf8;
mod real_wrong_password_defers;
mod server_drops_connection_in_data;
mod server_hangs_in_data;
mod silent_banner_times_out;
mod size_limit_fails_before_data;
mod starttls_required_not_offered;
mod two_messages_share_one_connection;
