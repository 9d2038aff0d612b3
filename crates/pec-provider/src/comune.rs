//! What every point shares: signing on the blocking pool, the counters, the operator's trail
//! of committed events, and the log lines a decision's events become.

use crate::errore::{Contesto as _, Errore, Risultato as Result};
use pec_core::registro::Evento;
use pec_core::UnsignedMessage;
use pec_smime::Signer;
use pec_store::{Address, Batch, LogAppend, Operation, SqliteStore};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The parts the points are built from; each point keeps only the ones it uses.
#[derive(Clone)]
pub(crate) struct Parti {
    pub store: SqliteStore,
    pub registro: Registro,
    pub firma: Firmatario,
    pub ids: Arc<crate::ids::Ids>,
    pub provider: pec_core::Provider,
    pub domini: crate::domini::Domini,
    pub indice: Arc<crate::indice::Directory>,
    pub clock: Arc<crate::clock::Clock>,
    pub contatori: Arc<Contatori>,
    /// Wakes the worker when new work is queued.
    pub lavoro: Arc<tokio::sync::Notify>,
}

/// Our signing identity, used on the blocking pool (openssl never runs on the async threads).
#[derive(Clone)]
pub struct Firmatario(Arc<Signer>);

impl Firmatario {
    /// Signs with `signer`.
    pub fn new(signer: Arc<Signer>) -> Self {
        Self(signer)
    }

    /// The signer itself (the bench measures it).
    pub fn signer(&self) -> &Arc<Signer> {
        &self.0
    }

    /// Signs one message.
    pub async fn uno(&self, message: UnsignedMessage) -> Result<Vec<u8>> {
        self.tutti(vec![message])
            .await?
            .pop()
            .ctx("signing returned nothing")
    }

    /// Signs several messages in one blocking task; as many come back, in order.
    pub async fn tutti(&self, messages: Vec<UnsignedMessage>) -> Result<Vec<Vec<u8>>> {
        let (signer, n) = (self.0.clone(), messages.len());
        let signed = tokio::task::spawn_blocking(move || {
            messages
                .iter()
                .map(|m| signer.sign(m).map_err(Errore::from))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .ctx("signing task")??;
        if signed.len() != n {
            return Err(Errore::Firma(format!(
                "signing returned {} of {n}",
                signed.len()
            )));
        }
        Ok(signed)
    }
}

/// Counts of finished work since start: the bench's finish lines.
#[derive(Debug, Default)]
pub struct Contatori {
    consegne: AtomicU64,
    chiusi_remoti: AtomicU64,
}

impl Contatori {
    /// Delivery steps committed (receipt or notice stored).
    pub fn consegne(&self) -> u64 {
        self.consegne.load(Ordering::Relaxed)
    }

    /// Final receipts (delivery or non-delivery) received from other providers.
    pub fn chiusi_remoti(&self) -> u64 {
        self.chiusi_remoti.load(Ordering::Relaxed)
    }

    pub(crate) fn consegnati(&self, n: usize) {
        self.consegne.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn chiuso_remoto(&self) {
        self.chiusi_remoti.fetch_add(1, Ordering::Relaxed);
    }
}

/// The operator's live trail of the legal events each commit recorded (the executor prints
/// them once committed, never for a replay).
#[derive(Clone)]
pub struct Registro {
    traccia: Arc<AtomicBool>,
}

impl Default for Registro {
    fn default() -> Self {
        Self {
            traccia: Arc::new(AtomicBool::new(true)),
        }
    }
}

impl Registro {
    /// Turns the trail of committed events on standard output on or off.
    pub fn traccia(&self, on: bool) {
        self.traccia.store(on, Ordering::Relaxed);
    }

    /// Prints committed events, one line each (`event <JSON line>`), when the trail is on.
    pub(crate) fn annuncia(&self, eventi: &[Evento]) {
        use std::io::Write;
        if !self.traccia.load(Ordering::Relaxed) {
            return;
        }
        let mut out = std::io::stdout().lock();
        for e in eventi {
            let _ = writeln!(out, "event {}", e.riga());
        }
        let _ = out.flush();
    }
}

/// A mailbox address, for the store.
pub fn indirizzo(s: &str) -> Result<Address> {
    Ok(Address::parse(s)?)
}

/// Appends the log events of a decision (PEC-SPEC §8).
pub(crate) fn registra(batch: &mut Batch, eventi: &[Evento], sender: &str) {
    for e in eventi {
        let mut msgids = vec![e.identificativo.clone()];
        msgids.extend(e.msgid.clone());
        msgids.extend(e.generati.iter().cloned());
        batch.push(Operation::AppendLog(LogAppend {
            time: e.data.utc(),
            line: e.riga(),
            msgids,
            sender: Some(sender.to_ascii_lowercase()),
        }));
    }
}
