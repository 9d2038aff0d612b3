//! Unique identifiers: the PEC msgid of an envelope and the Message-ID of every receipt
//! (PEC-SPEC §3.3: globally unique, `<alnum string>@<provider mail domain>`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Makes identifiers of the form `opec-gestore.<yyyymmddhhmmss>.<boot>.<n>@<domain>`: the
/// boot part is random per process start, the counter grows within it, so ids never repeat
/// across restarts nor within one process.
pub struct Ids {
    domain: String,
    boot: String,
    counter: AtomicU64,
}

impl Ids {
    /// A generator for `domain`, seeded from the operating system's randomness.
    pub fn new(domain: &str) -> Self {
        let mut seed = [0u8; 6];
        // Without OS randomness fall back to the time: still unique per boot in practice.
        if getrandom::fill(&mut seed).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            seed.copy_from_slice(&nanos.to_le_bytes()[..6]);
        }
        Ids {
            domain: domain.to_ascii_lowercase(),
            boot: hex(&seed),
            counter: AtomicU64::new(1),
        }
    }

    /// The next identifier, for an event at `now`.
    pub fn next(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "opec-gestore.{}.{}.{n}@{}",
            now.format("%Y%m%d%H%M%S"),
            self.boot,
            self.domain
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_do_not_repeat_within_or_across_generators() {
        let now = chrono::Utc::now();
        let a = Ids::new("pec.example.test");
        let b = Ids::new("pec.example.test");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(a.next(now)));
            assert!(seen.insert(b.next(now)));
        }
        assert!(a.next(now).ends_with("@pec.example.test"));
    }
}
