//! Wall-clock time for due dates and lifetimes, injected so that the
//! scheduler's tests run on tokio's paused clock: there a retry an hour
//! away comes at once, and the job's state records agree with the
//! scheduler about when it was due, because both read this clock.

use std::time::SystemTime;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's clock: what vmaild uses.
    System,
    /// Wall time that moves with tokio's clock from a fixed origin; with
    /// `tokio::time::pause()` it jumps when every task waits.
    Tokio {
        wall_origin: SystemTime,
        tokio_origin: Instant,
    },
}

impl Clock {
    /// A clock that follows tokio's (paused, in tests) from now on.
    pub fn following_tokio() -> Clock {
        Clock::Tokio {
            wall_origin: SystemTime::now(),
            tokio_origin: Instant::now(),
        }
    }

    pub fn now(&self) -> SystemTime {
        match self {
            Clock::System => SystemTime::now(),
            Clock::Tokio {
                wall_origin,
                tokio_origin,
            } => *wall_origin + tokio_origin.elapsed(),
        }
    }

    /// A wall-clock due time on tokio's clock, for the scheduler's timers.
    /// Past or absent times are due now.
    pub fn instant_at(&self, due: Option<SystemTime>) -> Instant {
        let now = Instant::now();
        match due.map(|due| due.duration_since(self.now())) {
            Some(Ok(wait)) => now + wait,
            Some(Err(_)) | None => now,
        }
    }
}
