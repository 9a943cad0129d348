//! vmaild: turns files in the spool into delivered mail.
//!
//! `run` opens the spool under its pid lock, repairs what a crash left,
//! starts the watcher and the signal listener, and hands everything to the
//! [`scheduler::Scheduler`], which owns the queue until SIGTERM.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod capture;
pub mod cli;
pub mod clock;
pub mod deliver;
pub mod index;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod metrics_http;
pub mod open_files;
pub mod pickup;
pub mod relay;
pub mod scheduler;
pub mod smtp;
pub mod status;
pub mod watcher;
pub mod worker;

use deliver::Deliver;
use logging::RotatingLog;
use metrics::Metrics;
use relay::{Relay, TokenSources};
use scheduler::{Exit, Inputs, Mode, Reloader, SCHED_TARGET, Scheduler};
use status::DaemonStatus;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};
use vmail_config::{Config, ConfigErrors, Delivery, Diagnostic};
use vmail_core::DebugLevel;
use vmail_spool::{Spool, SpoolError};
use worker::WorkerContext;

/// Why vmaild could not start. Each names what to fix, and each text holds
/// its whole cause: print it with `{}`, not as a chain of sources (the
/// spool's `Permission denied` came out three times that way).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(ConfigErrors),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("cannot open the daemon log {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Relay(#[from] relay::TokenSetupError),
    #[error("cannot watch the spool {path}: {source}")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
    #[error("{0}")]
    Metrics(#[from] metrics_http::ListenError),
}

/// Loads and validates the configuration, printing every warning to stderr.
pub fn load_config(path: &std::path::Path) -> Result<Config, StartError> {
    let loaded = vmail_config::load(path).map_err(StartError::Config)?;
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    Ok(loaded.config)
}

/// The daemon log's filter for a configuration: `[VMAIL] debug=2` shows the
/// details of every attempt, `[VFXSCHED] debug=On` the scheduler's decisions.
fn filter_for(config: &Config) -> EnvFilter {
    let base = if config.debug >= DebugLevel::Transcript {
        "debug"
    } else {
        "info"
    };
    let sched = if config.sched_debug { "debug" } else { "info" };
    EnvFilter::new(format!(
        "{base},{SCHED_TARGET}={sched},notify=warn,rustls=warn,tokio=warn,mio=warn"
    ))
}

type FilterHandle = reload::Handle<EnvFilter, Registry>;

fn init_logging(config: &Config, spool: &Spool) -> Result<(RotatingLog, FilterHandle), StartError> {
    let path = spool.daemon_log_path();
    let log = RotatingLog::open(&path, config.max_debug_log)
        .map_err(|source| StartError::Log { path, source })?;
    let (filter, handle) = reload::Layer::new(filter_for(config));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(log.clone())
        .with_ansi(false)
        .with_target(false);
    // A second init (tests that run the daemon twice in one process) keeps
    // the first subscriber; that is harmless.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
    Ok((log, handle))
}

fn log_diagnostics(warnings: &[Diagnostic]) {
    for warning in warnings {
        warn!("{warning}");
    }
}

fn announce(config: &Config, relay: &Relay) {
    match &config.delivery {
        Delivery::Capture { dir } => warn!(
            "CAPTURE MODE: no mail leaves this machine; every job is written as an .eml file into {}. \
             Set [VMAIL] mail-server in {} to deliver for real.",
            dir.display(),
            config.path.display()
        ),
        Delivery::Smtp(_) => info!("delivering via {}", relay.destination()),
    }
}

/// Builds the closure that SIGHUP runs: parse, validate, swap; a bad file
/// is reported in full and the running configuration stays.
/// `tokens` is the running token source: a reload keeps it while the
/// `oauth-*` settings stay the same.
fn reloader(
    path: PathBuf,
    log: RotatingLog,
    filter: FilterHandle,
    mut tokens: TokenSources,
    metrics: Metrics,
) -> Reloader<Relay> {
    Box::new(move || {
        let loaded = match vmail_config::load(&path) {
            Ok(loaded) => loaded,
            Err(errors) => {
                error!(
                    "{} has errors; keeping the running configuration:",
                    path.display()
                );
                for diagnostic in errors.errors.iter().chain(&errors.warnings) {
                    error!("{diagnostic}");
                }
                return None;
            }
        };
        log_diagnostics(&loaded.warnings);
        let relay = match Relay::for_config(&loaded.config, &mut tokens) {
            Ok(relay) => relay,
            Err(err) => {
                error!("{err}; keeping the running configuration");
                return None;
            }
        };
        metrics.set_relay(relay.destination());
        metrics.set_token_client(tokens.client());
        if loaded.config.metrics_listen != metrics.listen() {
            warn!(
                "[VMAIL] metrics-listen changed: a running vmaild keeps its endpoint; restart it to move"
            );
        }
        log.set_max_bytes(loaded.config.max_debug_log);
        if let Err(err) = filter.reload(filter_for(&loaded.config)) {
            warn!("cannot apply the new debug levels: {err}");
        }
        announce(&loaded.config, &relay);
        Some((Arc::new(loaded.config), Arc::new(relay)))
    })
}

/// Runs the daemon on a loaded configuration until SIGTERM (or, with
/// `Mode::Once`, until nothing is due).
pub async fn run(config: Config, mode: Mode) -> Result<Exit, StartError> {
    let spool = Spool::open_for_daemon(&config.spool)?;
    let _lock = spool.lock()?;
    spool.check_writable()?;
    let (log, filter) = init_logging(&config, &spool)?;
    open_files::raise_for(config.max_connections);
    let recovery = spool.recover()?;
    info!(
        "vmaild {} starting on {}: {recovery}",
        env!("CARGO_PKG_VERSION"),
        spool.root().display()
    );
    let mut tokens = TokenSources::default();
    let relay = Relay::for_config(&config, &mut tokens).map_err(StartError::Relay)?;
    announce(&config, &relay);
    let metrics = Metrics::for_config(&config);
    metrics.set_relay(relay.destination());
    metrics.set_token_client(tokens.client());
    let spool = Arc::new(spool);
    let _endpoint = match &config.metrics_listen {
        Some(listen) => Some(metrics_http::serve(
            listen,
            metrics.clone(),
            Arc::clone(&spool),
        )?),
        None => None,
    };

    let (control_tx, control) = mpsc::channel(8);
    lifecycle::listen_for_signals(control_tx).map_err(StartError::Signals)?;
    let (hints_tx, hints) = mpsc::channel(4096);
    let _watcher = watcher::SpoolWatcher::start(&spool.in_dir(), &spool.queue_dir(), hints_tx)
        .map_err(|source| StartError::Watch {
            path: spool.root().to_path_buf(),
            source,
        })?;

    let reload = reloader(config.path.clone(), log, filter, tokens, metrics.clone());
    let status_file = status::keep_written(metrics.clone(), Arc::clone(&spool));
    let ctx = WorkerContext {
        spool: Arc::clone(&spool),
        deliverer: Arc::new(relay),
        config: Arc::new(config),
        clock: clock::Clock::System,
        metrics: metrics.clone(),
    };
    let exit = Scheduler::new(ctx, Inputs { hints, control }, reload, mode)
        .run()
        .await;
    status_file.abort();
    let stopped = DaemonStatus {
        running: false,
        ..metrics.status(&spool)
    };
    if let Err(err) = stopped.write(spool.root()) {
        warn!("{err}");
    }
    Ok(exit)
}
