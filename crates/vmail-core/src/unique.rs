//! Random numbers for names that must not collide (job ids, temp files,
//! Message-IDs): unguessable enough, and cheap to start.
//!
//! `rand`'s thread generator seeds a ChaCha core whose first use probes the
//! CPU's features with `cpuid`, and in a virtual machine every `cpuid` is a
//! trap to the hypervisor: it was a third of the sendmail shim's own CPU
//! time per message. The standard library's hasher keys come from the
//! kernel's `getrandom` alone. None of these values is a secret; a clash is
//! caught where it matters (a job id is linked with `link(2)`, which never
//! replaces an existing job).

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh random 64-bit number. Each `RandomState` of a thread has new
/// keys, and the counter makes two calls with equal keys differ anyway.
pub fn random_u64() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(CALLS.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ten_thousand_draws_do_not_repeat_and_use_every_bit() {
        let draws: Vec<u64> = (0..10_000).map(|_| random_u64()).collect();
        let distinct: HashSet<u64> = draws.iter().copied().collect();
        assert_eq!(distinct.len(), draws.len());
        let ones = draws.iter().fold(0u64, |acc, d| acc | d);
        let zeros = draws.iter().fold(0u64, |acc, d| acc | !d);
        assert_eq!((ones, zeros), (u64::MAX, u64::MAX));
    }
}
