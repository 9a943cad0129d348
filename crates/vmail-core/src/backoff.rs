//! When to try a deferred job again. Pure functions of the attempt count and
//! the job's age, so the whole schedule can be asserted in one test and the
//! scheduler never needs a clock to decide.

use std::time::Duration;

/// `[VMAIL] retry-min`, `retry-max`, `max-lifetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt.
    pub min: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
    /// Past this age a job that still could not be delivered fails.
    pub max_lifetime: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            max_lifetime: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts: `min`, doubling, capped at
    /// `max`. Zero attempts means the job is due now.
    pub fn delay_for(&self, attempts: u32) -> Duration {
        if attempts == 0 {
            return Duration::ZERO;
        }
        let doublings = (attempts - 1).min(32);
        let delay = self.min.saturating_mul(1u32 << doublings.min(31));
        delay.min(self.max).max(self.min.min(self.max))
    }

    /// How long from now until the next attempt of a job that has failed
    /// `attempts` times and is `age` old; `None` once its lifetime is spent.
    pub fn next_due(&self, attempts: u32, age: Duration) -> Option<Duration> {
        if age >= self.max_lifetime {
            return None;
        }
        let delay = self.delay_for(attempts);
        // The last attempt happens at the end of the lifetime, not never.
        Some(delay.min(self.max_lifetime - age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: u64, max: u64, lifetime: u64) -> RetryPolicy {
        RetryPolicy {
            min: Duration::from_secs(min),
            max: Duration::from_secs(max),
            max_lifetime: Duration::from_secs(lifetime),
        }
    }

    #[test]
    fn the_whole_schedule_doubles_then_stays_at_the_cap() {
        let p = policy(60, 3600, 86_400);
        let delays: Vec<u64> = (0..10).map(|a| p.delay_for(a).as_secs()).collect();
        assert_eq!(
            delays,
            vec![0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        );
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let p = policy(60, 3600, 86_400);
        assert_eq!(p.delay_for(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn a_job_expires_at_its_lifetime_and_gets_a_last_try_before() {
        let p = policy(60, 3600, 7200);
        assert_eq!(
            p.next_due(3, Duration::from_secs(0)),
            Some(Duration::from_secs(240))
        );
        assert_eq!(
            p.next_due(7, Duration::from_secs(7000)),
            Some(Duration::from_secs(200))
        );
        assert_eq!(p.next_due(7, Duration::from_secs(7200)), None);
        assert_eq!(p.next_due(1, Duration::from_secs(99_999)), None);
    }

    #[test]
    fn a_minimum_above_the_maximum_is_held_to_the_maximum() {
        let p = policy(600, 60, 86_400);
        assert_eq!(p.delay_for(1), Duration::from_secs(60));
        assert_eq!(p.delay_for(5), Duration::from_secs(60));
    }
}
