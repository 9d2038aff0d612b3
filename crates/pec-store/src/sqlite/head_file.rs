//! The log head outside the database (issue 12, item 5): `data_dir/log.head` records the
//! sequence number and hash of the last committed event, sealed with the provider's key, so a
//! database that was deleted, emptied, truncated or replaced by an older copy is noticed at the
//! next open instead of starting afresh with "intact: 0 events".
//!
//! Invariants:
//! - the file only ever records a head the database had committed (it is written after the
//!   COMMIT); it may lag behind (it is written at most every [`INTERVALLO`] and a crash can
//!   lose the last write), never run ahead, so "the database holds the event the file names,
//!   with the same hash" is the whole check;
//! - it exists from a store's first open on (with head 0), so a missing file is a deleted one;
//! - it is replaced atomically (written aside, fsynced, renamed) and carries a checksum, so a
//!   torn or damaged file is told apart from a valid one; with a [`Sigillo`] it also carries
//!   the provider's signature over its lines, so it cannot be rewritten to match a truncated
//!   log without the provider's key.
//!
//! What it cannot catch: the database and this file deleted or rolled back together by someone
//! who can also mark the store as older than the file. The time-stamped seals of the log
//! (issue 15) are the anchor outside the machine.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::model::LogHead;

/// The file's name in the data folder.
pub const FILE: &str = "log.head";
/// Writes are at most this frequent: the writer pays one small fsync (and, sealed, one
/// signature) at most this often.
const INTERVALLO: Duration = Duration::from_millis(100);
const MAGIC: &str = "gestore log head v1";

/// Seals the head file with the provider's key, and checks a seal: pec-store signs nothing
/// itself (gestore passes pec-smime's signer in).
pub trait Sigillo: Send + Sync {
    /// A signature of `corpo`.
    fn sigilla(&self, corpo: &[u8]) -> Result<Vec<u8>, String>;
    /// Whether `sigillo` is this provider's signature of `corpo`.
    fn verifica(&self, corpo: &[u8], sigillo: &[u8]) -> Result<(), String>;
}

/// What the head file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Letto {
    /// No file.
    Assente,
    /// A valid file.
    Testa(LogHead),
}

fn corpo(head: &LogHead) -> String {
    format!(
        "{MAGIC}\nseq {}\nhash {}\n",
        head.seq,
        hex::encode(head.hash)
    )
}

fn controllo(testo: &str) -> String {
    hex::encode(&Sha256::digest(testo.as_bytes())[..8])
}

/// The file's text for `head`: its lines, the seal when there is a sealer, a checksum line.
pub(crate) fn testo(head: &LogHead, sigillo: Option<&dyn Sigillo>) -> Result<String, String> {
    let mut t = corpo(head);
    if let Some(s) = sigillo {
        let firma = s.sigilla(t.as_bytes())?;
        t.push_str(&format!("seal {}\n", hex::encode(firma)));
    }
    let check = controllo(&t);
    Ok(format!("{t}check {check}\n"))
}

/// What a file's text holds: the head, its lines (what a seal covers) and its seal.
pub(crate) struct Analisi {
    pub(crate) head: LogHead,
    pub(crate) corpo: String,
    pub(crate) seal: Option<Vec<u8>>,
}

/// Parses the file's text; `None` when it is not one whole valid file.
pub(crate) fn analizza(testo: &str) -> Option<Analisi> {
    let (sopra, check) = testo.rsplit_once("check ")?;
    if check.trim_end() != controllo(sopra) {
        return None;
    }
    let mut righe = sopra.lines();
    if righe.next()? != MAGIC {
        return None;
    }
    let seq = righe.next()?.strip_prefix("seq ")?.parse().ok()?;
    let hash: [u8; 32] = hex::decode(righe.next()?.strip_prefix("hash ")?)
        .ok()?
        .try_into()
        .ok()?;
    let seal = match righe.next() {
        Some(r) => Some(hex::decode(r.strip_prefix("seal ")?).ok()?),
        None => None,
    };
    let head = LogHead { seq, hash };
    Some(Analisi {
        head,
        corpo: corpo(&head),
        seal,
    })
}

/// Reads the head file of `dir`. With a sealer the file must carry a seal it accepts.
pub(crate) fn leggi(dir: &Path, sigillo: Option<&dyn Sigillo>) -> Result<Letto, StoreError> {
    let path = dir.join(FILE);
    let danno = |reason: &str| StoreError::HeadFileDamaged {
        path: path.clone(),
        reason: reason.to_string(),
    };
    let testo = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Letto::Assente),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    let a = analizza(&testo).ok_or_else(|| danno("unreadable or checksum wrong"))?;
    if let Some(s) = sigillo {
        let seal = a.seal.as_deref().ok_or_else(|| danno("not sealed"))?;
        s.verifica(a.corpo.as_bytes(), seal)
            .map_err(|e| danno(&format!("seal not valid: {e}")))?;
    }
    Ok(Letto::Testa(a.head))
}

/// Replaces the head file of `dir`: the new text is fsynced before the rename, so the file
/// is always one whole version; the rename itself is not waited for (losing it in a power cut
/// leaves the previous head, which lags, and lagging is allowed).
pub(crate) fn scrivi(
    dir: &Path,
    head: &LogHead,
    sigillo: Option<&dyn Sigillo>,
) -> Result<(), StoreError> {
    let path = dir.join(FILE);
    if sigillo.is_none() && sigillato(&path) {
        // An opener without the key (a tool, a test) never turns a sealed file into an
        // unsealed one the provider would then refuse: the file lags instead, as allowed.
        return Ok(());
    }
    let testo = testo(head, sigillo).map_err(|reason| StoreError::HeadFileDamaged {
        path: path.clone(),
        reason: format!("cannot seal: {reason}"),
    })?;
    // A private file of a unique name (0600 whatever the umask), renamed over the old one.
    let write = || -> std::io::Result<()> {
        let mut f = tempfile::NamedTempFile::new_in(dir)?;
        f.write_all(testo.as_bytes())?;
        f.as_file().sync_all()?;
        f.persist(&path).map(drop).map_err(|e| e.error)
    };
    write().map_err(|e| StoreError::io(&path, e))
}

/// Whether the file at `path` is a valid sealed head file.
pub(crate) fn sigillato(path: &Path) -> bool {
    fs::read_to_string(path)
        .ok()
        .and_then(|t| analizza(&t))
        .is_some_and(|a| a.seal.is_some())
}

/// Keeps the head file in step with the writer's commits: called by the writer after each
/// COMMIT, it writes at most every [`INTERVALLO`] (and always when asked to, at shutdown or
/// when idle with a head not yet written).
pub(crate) struct Registro {
    dir: PathBuf,
    scritto: LogHead,
    quando: Option<Instant>,
    /// A committed head not written yet (it came within the interval).
    pendente: bool,
    sigillo: Option<Arc<dyn Sigillo>>,
    /// The data folder's lock, held as long as this may still write.
    _lock: fs::File,
}

impl Registro {
    /// `scritto` is what the file holds now.
    pub(crate) fn new(
        dir: PathBuf,
        scritto: LogHead,
        sigillo: Option<Arc<dyn Sigillo>>,
        lock: fs::File,
    ) -> Self {
        Self {
            dir,
            scritto,
            quando: None,
            pendente: false,
            sigillo,
            _lock: lock,
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
        match scrivi(&self.dir, head, self.sigillo.as_deref()) {
            Ok(()) => self.scritto = *head,
            Err(e) => tracing::error!("cannot record the log head: {e}"),
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

    /// A stand-in seal: the SHA-256 of the lines and a secret.
    struct Finto;
    impl Sigillo for Finto {
        fn sigilla(&self, corpo: &[u8]) -> Result<Vec<u8>, String> {
            Ok(Sha256::digest([corpo, b"segreto"].concat()).to_vec())
        }
        fn verifica(&self, corpo: &[u8], sigillo: &[u8]) -> Result<(), String> {
            (self.sigilla(corpo)? == sigillo)
                .then_some(())
                .ok_or_else(|| "wrong seal".into())
        }
    }

    #[test]
    fn the_text_round_trips_and_damage_is_seen() {
        let h = LogHead {
            seq: 42,
            hash: [7; 32],
        };
        let t = testo(&h, None).unwrap();
        assert_eq!(analizza(&t).map(|a| a.head), Some(h));
        assert!(analizza(&t.replace("seq 42", "seq 43")).is_none());
        assert!(analizza(&t[..t.len() - 3]).is_none());
        assert!(analizza("").is_none());
    }

    #[test]
    fn written_and_read_back_sealed_or_not() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(leggi(d.path(), None).unwrap(), Letto::Assente);
        let h = LogHead {
            seq: 3,
            hash: [1; 32],
        };
        scrivi(d.path(), &h, Some(&Finto)).unwrap();
        assert_eq!(leggi(d.path(), Some(&Finto)).unwrap(), Letto::Testa(h));
        // Without a sealer the seal is not checked, but the head is read.
        assert_eq!(leggi(d.path(), None).unwrap(), Letto::Testa(h));
        // Nor is a sealed file replaced by an unsealed one: it lags, still sealed.
        let h4 = LogHead {
            seq: 4,
            hash: [2; 32],
        };
        scrivi(d.path(), &h4, None).unwrap();
        assert_eq!(leggi(d.path(), Some(&Finto)).unwrap(), Letto::Testa(h));
        scrivi(d.path(), &h4, Some(&Finto)).unwrap();
        assert_eq!(leggi(d.path(), Some(&Finto)).unwrap(), Letto::Testa(h4));
        fs::write(d.path().join(FILE), "rubbish").unwrap();
        assert!(matches!(
            leggi(d.path(), None),
            Err(StoreError::HeadFileDamaged { .. })
        ));
    }

    #[test]
    fn an_unsealed_or_resealed_file_is_refused_when_sealing() {
        let d = tempfile::tempdir().unwrap();
        let h = LogHead {
            seq: 3,
            hash: [1; 32],
        };
        scrivi(d.path(), &h, None).unwrap();
        let e = leggi(d.path(), Some(&Finto)).unwrap_err();
        assert!(e.to_string().contains("not sealed"), "{e}");
        // A head rewritten to a lower count, with its checksum made right, but no key.
        scrivi(d.path(), &h, Some(&Finto)).unwrap();
        let t = fs::read_to_string(d.path().join(FILE)).unwrap();
        let sopra = t.rsplit_once("check ").unwrap().0.replace("seq 3", "seq 2");
        fs::write(
            d.path().join(FILE),
            format!("{sopra}check {}\n", controllo(&sopra)),
        )
        .unwrap();
        let e = leggi(d.path(), Some(&Finto)).unwrap_err();
        assert!(e.to_string().contains("seal not valid"), "{e}");
    }
}
