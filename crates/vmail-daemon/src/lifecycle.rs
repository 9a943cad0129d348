//! Signals and the systemd notify protocol: how the outside world tells
//! vmaild to reload or stop, and how vmaild tells systemd it is ready, busy
//! or stopping.

use futures_util::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use std::io;
use std::time::Duration;
use tokio::sync::mpsc;

/// Requests from signals, handled by the scheduler in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: read the configuration again; keep the old one if it is bad.
    Reload,
    /// SIGTERM or SIGINT: take no new work, let sessions finish, exit 0.
    Shutdown,
}

/// Listens for SIGHUP, SIGTERM and SIGINT for as long as the process lives.
/// Registered before recovery starts, so a signal that arrives early is
/// queued rather than killing the daemon mid-recovery.
pub fn listen_for_signals(control: mpsc::Sender<Control>) -> io::Result<()> {
    let mut signals = Signals::new([SIGHUP, SIGTERM, SIGINT])?;
    tokio::spawn(async move {
        while let Some(signal) = signals.next().await {
            let request = if signal == SIGHUP {
                Control::Reload
            } else {
                Control::Shutdown
            };
            if control.send(request).await.is_err() {
                break;
            }
        }
    });
    Ok(())
}

/// The systemd side of `Type=notify`. Every call is a no-op when vmaild was
/// not started by systemd (no `NOTIFY_SOCKET`).
pub struct Systemd {
    watchdog: Option<Duration>,
}

impl Systemd {
    pub fn from_env() -> Systemd {
        Systemd {
            watchdog: sd_notify::watchdog_enabled(),
        }
    }

    /// How often the scheduler must call [`Systemd::alive`]: half the
    /// configured `WatchdogSec`, as sd_watchdog_enabled(3) recommends.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|limit| limit / 2)
    }

    pub fn ready(&self, status: &str) {
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(status),
        ]);
    }

    pub fn status(&self, status: &str) {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(status)]);
    }

    pub fn reloading(&self) {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
    }

    pub fn stopping(&self) {
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    }

    /// Asks systemd not to kill the drain for `more` from now
    /// (`EXTEND_TIMEOUT_USEC`, systemd 236 and later). The unit's
    /// `TimeoutStopSec` is shorter than the longest drain (twice the SMTP
    /// `timeout`), so the scheduler sends this when the drain starts and
    /// again on each of its wakes while sessions are busy: systemd waits for
    /// as long as vmaild is really draining, and no longer, because an
    /// extension that is not renewed runs out. Older systemd ignores it.
    pub fn extend_stop(&self, more: Duration) {
        let usec = u32::try_from(more.as_micros()).unwrap_or(u32::MAX);
        let _ = sd_notify::notify(&[sd_notify::NotifyState::ExtendTimeoutUsec(usec)]);
    }

    /// The watchdog ping; sent from the scheduler loop, so a scheduler that
    /// hangs stops pinging and systemd restarts it.
    pub fn alive(&self) {
        if self.watchdog.is_some() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }
}
