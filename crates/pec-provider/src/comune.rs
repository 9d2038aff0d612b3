//! What every point shares: signing on the blocking pool, our domains, the store operations
//! a decision becomes (a message for a box, a queue item, log events), and the commit that
//! prints the legal events it recorded.

use crate::errore::{Contesto as _, Errore, Risultato as Result};
use chrono::{DateTime, Utc};
use pec_core::chiave::Chiave;
use pec_core::lavoro::Lavoro;
use pec_core::registro::Evento;
use pec_core::UnsignedMessage;
use pec_smime::Signer;
use pec_store::{
    Address, Admission, Batch, Body, LogAppend, NewMessage, NewQueueItem, Operation, SqliteStore,
    Store,
};
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

/// The store, as the points commit to it: every commit that records legal events prints
/// them (the operator's live trail) unless it was a replay.
#[derive(Clone)]
pub struct Registro {
    store: SqliteStore,
    traccia: Arc<AtomicBool>,
}

impl Registro {
    /// Commits to `store`, printing events (turn it off with [`Registro::traccia`]).
    pub fn new(store: SqliteStore) -> Self {
        Self {
            store,
            traccia: Arc::new(AtomicBool::new(true)),
        }
    }

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

    /// Commits `batch`; prints `eventi` unless it was a replay (its key committed before:
    /// the log holds those events once already). Whether it was new.
    pub(crate) async fn commit(&self, batch: Batch, eventi: &[&[Evento]]) -> Result<bool> {
        let fresh = !self.store.commit(batch).await.ctx("commit")?.replayed;
        if fresh {
            for e in eventi {
                self.annuncia(e);
            }
        }
        Ok(fresh)
    }
}

/// A mailbox address, for the store.
pub fn indirizzo(s: &str) -> Result<Address> {
    Ok(Address::parse(s)?)
}

/// A message for a box; `Force` because the rules require receipts to reach the sender.
pub(crate) fn deposita(
    casella: &Address,
    cartella: &str,
    chiave: Chiave,
    bytes: impl Into<Arc<[u8]>>,
    now: DateTime<Utc>,
) -> Operation {
    Operation::PutMessage(NewMessage {
        key: chiave.into(),
        mailbox: casella.clone(),
        folder: cartella.into(),
        body: Body::Bytes(bytes.into()),
        internal_date: now,
        flags: Vec::new(),
        admission: Admission::Force,
    })
}

/// A queue item, due at `due`.
pub(crate) fn accoda(chiave: Chiave, lavoro: &Lavoro<'_>, due: DateTime<Utc>) -> Result<Operation> {
    Ok(Operation::Enqueue(NewQueueItem {
        key: chiave.into(),
        kind: lavoro.tipo().into(),
        payload: lavoro.payload()?,
        due,
    }))
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
