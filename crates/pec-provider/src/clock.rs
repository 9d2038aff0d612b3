//! The provider's clock: every time reference, queue due time and 12 h / 24 h deadline of a
//! running provider is read here, never from `Utc::now()` directly.
//!
//! In production it is the system clock (PEC-SPEC §9.1: within one second of UTC). With
//! `[dev] adjustable_clock = true` an operator (or a test) can move it forward with
//! `gestore clock advance`: deadlines that would take 12 or 24 hours come due at once, and
//! tests never sleep through them. The offset is kept in `DATA/clock-offset`, so a restart
//! does not travel back in time; the file is ignored unless the setting is on.

use crate::errore::{Errore, Risultato as Result};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

/// File of the offset, in the data folder.
const OFFSET_FILE: &str = "clock-offset";

/// The system clock plus an offset that only an adjustable clock can move.
#[derive(Debug)]
pub struct Clock {
    offset_ms: AtomicI64,
    /// `None` for the system clock: it refuses to move.
    file: Option<PathBuf>,
    /// Tells tasks that sleep until a date (the quarantine purge) that the clock jumped.
    moved: tokio::sync::watch::Sender<i64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock {
            offset_ms: AtomicI64::new(0),
            file: None,
            moved: tokio::sync::watch::Sender::new(0),
        }
    }

    /// An adjustable clock whose offset lives in `data_dir` (read now if present).
    pub fn adjustable(data_dir: &Path) -> Result<Self> {
        let file = data_dir.join(OFFSET_FILE);
        let offset = match std::fs::read_to_string(&file) {
            Ok(s) => s.trim().parse::<i64>().map_err(|_| {
                Errore::Sistema(format!("{}: not a number of milliseconds", file.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => {
                return Err(Errore::Sistema(format!(
                    "cannot read {}: {e}",
                    file.display()
                )))
            }
        };
        Ok(Clock {
            offset_ms: AtomicI64::new(offset),
            file: Some(file),
            moved: tokio::sync::watch::Sender::new(offset),
        })
    }

    /// Now, as the provider sees it.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// A receiver that changes whenever the clock is moved forward.
    pub fn moves(&self) -> tokio::sync::watch::Receiver<i64> {
        self.moved.subscribe()
    }

    /// Moves the clock forward by `by` (never backwards: time references must not repeat)
    /// and returns the new offset from the system clock.
    pub fn advance(&self, by: std::time::Duration) -> Result<chrono::Duration> {
        let Some(file) = &self.file else {
            return Err(Errore::Sistema(
                "the clock is not adjustable (set [dev] adjustable_clock = true)".into(),
            ));
        };
        let ms = i64::try_from(by.as_millis()).map_err(|_| Errore::Sistema("too far".into()))?;
        let offset = self.offset_ms.fetch_add(ms, Ordering::SeqCst) + ms;
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, offset.to_string())
            .and_then(|()| std::fs::rename(&tmp, file))
            .map_err(|e| Errore::Sistema(format!("cannot write {}: {e}", file.display())))?;
        self.moved.send_replace(offset);
        Ok(chrono::Duration::milliseconds(offset))
    }
}

/// Parses `90s`, `30m`, `12h`, `2d` (or a bare number of seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| Errore::Sistema(format!("{s:?} is not a duration")))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(Errore::Sistema(format!("{s:?}: unit must be s, m, h or d"))),
    };
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_does_not_move() {
        assert!(Clock::system()
            .advance(std::time::Duration::from_secs(1))
            .is_err());
    }

    #[test]
    fn an_adjustable_clock_moves_forward_and_remembers() {
        let dir = tempfile::tempdir().unwrap();
        let c = Clock::adjustable(dir.path()).unwrap();
        let before = c.now();
        c.advance(std::time::Duration::from_secs(12 * 3600))
            .unwrap();
        assert!(c.now() - before >= chrono::Duration::hours(12));
        let again = Clock::adjustable(dir.path()).unwrap();
        assert!(again.now() - before >= chrono::Duration::hours(12));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h").unwrap().as_secs(), 43200);
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("2d").unwrap().as_secs(), 172800);
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3w").is_err());
    }
}
