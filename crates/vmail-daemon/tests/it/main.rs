//! vmail-daemon's integration tests, one module per behaviour: the
//! scheduler with a scripted deliverer (`scheduler_*`), and the real
//! `vmaild` binary against the fault server and the real Postfix
//! (`vmaild_*`). One test binary, so the suite links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod oauth_client_credentials_delivers;
mod oauth_reload_keeps_the_token_client;
mod oauth_rotation_survives_kill9;
mod oauth_service_account_jwt;
mod oauth_support;
mod oauth_token_failures_defer;
mod oauth_token_refreshed_once_for_busy_sessions;
mod scheduler_drains_on_shutdown;
mod scheduler_honours_admin_actions_during_an_attempt;
mod scheduler_keep_sent_zero;
mod scheduler_once_mode;
mod scheduler_partial_recipients;
mod scheduler_permanent_failure_sends_one_notice;
mod scheduler_queues_the_notice_before_failing_the_job;
mod scheduler_retries_on_the_backoff_schedule;
mod scheduler_sets_corrupt_entries_aside;
mod scheduler_settles_each_job_at_its_own_reply;
mod scheduler_shares_due_jobs_between_sessions;
mod scheduler_takes_back_the_jobs_of_a_panicking_worker;
mod vmaild_check_config;
mod vmaild_crash_real_postfix;
mod vmaild_delivers_a_fax_as_pdf_to_real_postfix;
mod vmaild_delivers_a_templated_fax_to_real_postfix;
mod vmaild_delivers_to_real_postfix;
mod vmaild_disk_full;
mod vmaild_drop_tricks;
mod vmaild_fails_over_to_the_next_server;
mod vmaild_fault_matrix;
mod vmaild_kill9_loses_no_job;
mod vmaild_names_the_chown_for_a_root_owned_spool;
mod vmaild_picks_up_a_dropped_job;
mod vmaild_pins_and_client_certificate;
mod vmaild_pop_before_smtp_secrets;
mod vmaild_raises_its_open_files_limit;
mod vmaild_refuses_a_second_instance;
mod vmaild_reload_keeps_running_config_on_errors;
mod vmaild_renders_a_hylafax_fax;
mod vmaild_rewrites_local_names;
mod vmaild_sends_a_fax_as_pdf;
mod vmaild_serves_metrics_during_a_real_run;
mod vmaild_smtp_extensions_with_real_postfix;
mod vmaild_speaks_systemd_notify;
mod vmaild_start_spares_submits_in_progress;
mod vmaild_ten_thousand_drop;
