//! Queue helpers shared by every backend.

use std::time::Duration;

/// Delay before the next attempt after `attempts` failed ones: 1 min, 2, 4, … capped at 1 h.
///
/// The 12 h / 24 h PEC deadlines are timers of their own (pec-core), not retry limits, so the
/// cap stays well below them.
pub fn backoff(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(6);
    Duration::from_secs((60u64 << exp).min(3600))
}
