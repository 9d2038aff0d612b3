//! The log head outside the database (issue 12, item 5): `data_dir/log.head` records the
//! sequence number and hash of the last committed event, so a database that was deleted,
//! emptied, truncated or replaced by an older copy is noticed at the next open instead of
//! starting afresh with "intact: 0 events".
//!
//! Invariants:
//! - the file only ever records a head the database had committed (it is written after the
//!   COMMIT); it may lag behind (it is written at most every [`INTERVALLO`] and a crash can
//!   lose the last write), never run ahead, so "the database holds the event the file names,
//!   with the same hash" is the whole check;
//! - it is replaced atomically (written aside, fsynced, renamed), and carries a checksum, so a
//!   torn or damaged file is told apart from a valid one.
//!
//! What it cannot catch: the database and this file deleted or rolled back together. The
//! time-stamped seals of the log (issue 15) are the anchor outside the machine.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::model::LogHead;

/// The file's name in the data folder.
pub const FILE: &str = "log.head";
/// Writes are at most this frequent: the writer never waits for them.
const INTERVALLO: Duration = Duration::from_millis(100);
const MAGIC: &str = "gestore log head v1";

/// What the head file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Letto {
    /// No file: a new store, or one from before the file existed.
    Assente,
    /// A valid file.
    Testa(LogHead),
}

fn corpo(head: &LogHead) -> String {
    format!("{MAGIC}\nseq {}\nhash {}\n", head.seq, hex(&head.hash))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The file's text for `head`: the body and a checksum line.
pub(crate) fn testo(head: &LogHead) -> String {
    let c = corpo(head);
    let check = hex(&Sha256::digest(c.as_bytes())[..8]);
    format!("{c}check {check}\n")
}

/// Parses the file's text.
pub(crate) fn analizza(testo: &str) -> Option<LogHead> {
    let (corpo_letto, check) = testo.rsplit_once("check ")?;
    let atteso = hex(&Sha256::digest(corpo_letto.as_bytes())[..8]);
    if check.trim_end() != atteso {
        return None;
    }
    let mut righe = corpo_letto.lines();
    if righe.next()? != MAGIC {
        return None;
    }
    let seq = righe.next()?.strip_prefix("seq ")?.parse().ok()?;
    let h = righe.next()?.strip_prefix("hash ")?;
    if h.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, b) in hash.iter_mut().enumerate() {
        *b = u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(LogHead { seq, hash })
}

/// Reads the head file of `dir`.
pub(crate) fn leggi(dir: &Path) -> Result<Letto, StoreError> {
    let path = dir.join(FILE);
    match fs::read_to_string(&path) {
        Ok(t) => analizza(&t)
            .map(Letto::Testa)
            .ok_or_else(|| StoreError::HeadFileDamaged(path.clone())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Letto::Assente),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

/// Replaces the head file of `dir`: the new text is fsynced before the rename, so the file
/// is always one whole version; the rename itself is not waited for (losing it in a power cut
/// leaves the previous head, which lags, and lagging is allowed).
pub(crate) fn scrivi(dir: &Path, head: &LogHead) -> Result<(), StoreError> {
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(testo(head).as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| StoreError::io(&path, e))
}

/// Keeps the head file in step with the writer's commits: called by the writer after each
/// COMMIT, it writes at most every [`INTERVALLO`] (and always when asked to `finale`, at
/// shutdown), so the commit path pays one small fsync a tenth of a second at most.
pub(crate) struct Registro {
    dir: PathBuf,
    scritto: LogHead,
    quando: Option<Instant>,
    /// A committed head not written yet (it came within the interval).
    pendente: bool,
}

impl Registro {
    /// `scritto` is what the file holds now.
    pub(crate) fn new(dir: PathBuf, scritto: LogHead) -> Self {
        Self {
            dir,
            scritto,
            quando: None,
            pendente: false,
        }
    }

    /// The database committed up to `head`; `subito` writes it now whatever the interval.
    pub(crate) fn committed(&mut self, head: &LogHead, subito: bool) {
        if head.seq <= self.scritto.seq {
            self.pendente = false;
            return;
        }
        if !subito && self.quando.is_some_and(|t| t.elapsed() < INTERVALLO) {
            self.pendente = true;
            return;
        }
        match scrivi(&self.dir, head) {
            Ok(()) => self.scritto = *head,
            Err(e) => eprintln!("pec-store: cannot record the log head: {e}"),
        }
        self.pendente = false;
        self.quando = Some(Instant::now());
    }

    /// How long the writer may wait for work before it must write a pending head.
    pub(crate) fn scadenza(&self) -> Option<Duration> {
        let quando = self.quando?;
        self.pendente
            .then(|| INTERVALLO.saturating_sub(quando.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_round_trips_and_damage_is_seen() {
        let h = LogHead {
            seq: 42,
            hash: [7; 32],
        };
        let t = testo(&h);
        assert_eq!(analizza(&t), Some(h));
        assert_eq!(analizza(&t.replace("seq 42", "seq 43")), None);
        assert_eq!(analizza(&t[..t.len() - 3]), None);
        assert_eq!(analizza(""), None);
    }

    #[test]
    fn written_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(leggi(d.path()).unwrap(), Letto::Assente);
        let h = LogHead {
            seq: 3,
            hash: [1; 32],
        };
        scrivi(d.path(), &h).unwrap();
        assert_eq!(leggi(d.path()).unwrap(), Letto::Testa(h));
        fs::write(d.path().join(FILE), "rubbish").unwrap();
        assert!(matches!(
            leggi(d.path()),
            Err(StoreError::HeadFileDamaged(_))
        ));
    }
}
