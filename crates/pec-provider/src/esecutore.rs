//! Carries out a decision's effects (`pec_core::effetti`): signs its messages in one blocking
//! task, turns each effect into a store operation, commits them in one transaction, and only
//! then prints the legal events it logged, counts the finished deliveries and wakes the
//! worker. Every point commits through here; none builds store operations of its own.
//!
//! A plan that delivers to a box presumed active ([`Ammissione::Consegna`]) is refused as a
//! whole when the store finds that box unknown, disabled or full: the decision's alternative
//! is applied instead with the same signed messages, or, without one, the box's real state
//! goes back to the caller to decide again.

use crate::comune::{indirizzo, registra, Contatori, Firmatario, Parti, Registro};
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use chrono::{DateTime, Utc};
use pec_core::consegna::StatoCasella;
use pec_core::effetti::{Ammissione, Contenuto, Decisione, Effetto, Piano};
use pec_store::{
    Address, Admission, Batch, Body, NewMessage, NewQueueItem, Operation, QueueStatus, SqliteStore,
    Store, StoreError,
};
use std::sync::Arc;
use tokio::sync::Notify;

/// How the caller's own queue item ends, in the same transaction as the effects.
#[derive(Debug, Clone)]
pub(crate) enum Fine {
    /// Done.
    Fatto(String),
    /// Given up, with why.
    Abbandonato(String, String),
}

/// What became of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eseguito {
    /// Committed; `nuovo` false when it was a replay (its key committed before).
    Fatto {
        /// Whether this commit stored it (rather than finding it stored).
        nuovo: bool,
    },
    /// A box presumed active is in this state and the decision had no alternative.
    Rifiutato(StatoCasella),
}

/// Executes decisions against the store.
#[derive(Clone)]
pub(crate) struct Esecutore {
    store: SqliteStore,
    registro: Registro,
    firma: Firmatario,
    contatori: Arc<Contatori>,
    lavoro: Arc<Notify>,
}

/// What applying one plan did.
enum Applicato {
    Fatto(bool),
    Rifiutato(StatoCasella),
}

impl Esecutore {
    /// Takes what it uses from the shared parts.
    pub(crate) fn new(p: &Parti) -> Self {
        Self {
            store: p.store.clone(),
            registro: p.registro.clone(),
            firma: p.firma.clone(),
            contatori: p.contatori.clone(),
            lavoro: p.lavoro.clone(),
        }
    }

    /// Signs `d`'s messages, applies its plan (or its alternative) at time `ora` with the
    /// caller's queue item ending as `fine`.
    pub(crate) async fn esegui(
        &self,
        d: Decisione,
        ora: DateTime<Utc>,
        fine: Option<&Fine>,
    ) -> Result<Eseguito> {
        let Decisione {
            da_firmare,
            piano,
            altrimenti,
        } = d;
        let firmati: Vec<Arc<[u8]>> = match da_firmare.is_empty() {
            true => Vec::new(),
            false => self
                .firma
                .tutti(da_firmare)
                .await?
                .into_iter()
                .map(Arc::from)
                .collect(),
        };
        let stato = match self.applica(&piano, &firmati, ora, fine).await? {
            Applicato::Fatto(nuovo) => return Ok(Eseguito::Fatto { nuovo }),
            Applicato::Rifiutato(stato) => stato,
        };
        let Some(altrimenti) = altrimenti else {
            return Ok(Eseguito::Rifiutato(stato));
        };
        match self.applica(&altrimenti, &firmati, ora, fine).await? {
            Applicato::Fatto(nuovo) => Ok(Eseguito::Fatto { nuovo }),
            Applicato::Rifiutato(stato) => Ok(Eseguito::Rifiutato(stato)),
        }
    }

    /// [`Esecutore::esegui`] for a decision that delivers to no box presumed active.
    pub(crate) async fn esegui_tutto(
        &self,
        d: Decisione,
        ora: DateTime<Utc>,
        fine: Option<&Fine>,
    ) -> Result<bool> {
        match self.esegui(d, ora, fine).await? {
            Eseguito::Fatto { nuovo } => Ok(nuovo),
            Eseguito::Rifiutato(stato) => Err(Errore::Regola(format!(
                "a plan without deliveries refused by a box ({stato:?})"
            ))),
        }
    }

    async fn applica(
        &self,
        piano: &Piano,
        firmati: &[Arc<[u8]>],
        ora: DateTime<Utc>,
        fine: Option<&Fine>,
    ) -> Result<Applicato> {
        let mut batch = match &piano.una_volta {
            Some(k) => Batch::once(k),
            None => Batch::new(),
        };
        let mut presunte: Vec<Address> = Vec::new();
        for e in &piano.effetti {
            match e {
                Effetto::Deposita {
                    casella,
                    cartella,
                    chiave,
                    contenuto,
                    ammissione,
                } => {
                    let mailbox = indirizzo(casella)?;
                    let admission = match ammissione {
                        Ammissione::Forzata => Admission::Force,
                        Ammissione::Consegna => {
                            presunte.push(mailbox.clone());
                            Admission::Enforce
                        }
                        Ammissione::SeAttiva => {
                            if !self.attiva(&mailbox).await? {
                                tracing::warn!("no active box {casella}, not delivered");
                                continue;
                            }
                            Admission::Force
                        }
                    };
                    batch.push(Operation::PutMessage(NewMessage {
                        key: chiave.into(),
                        mailbox,
                        folder: cartella.nome().into(),
                        body: Body::Bytes(corpo(contenuto, firmati)?),
                        internal_date: ora,
                        flags: Vec::new(),
                        admission,
                    }));
                }
                Effetto::Accoda {
                    chiave,
                    compito,
                    contenuto,
                    quando,
                } => {
                    // The bytes stored once by hash: an envelope queued for several
                    // recipients, or queued and kept in a box, is one row.
                    batch.push(Operation::Enqueue(NewQueueItem {
                        key: chiave.into(),
                        kind: compito.tipo().into(),
                        payload: compito.testa().ctx("queue item")?,
                        body: Some(Body::Bytes(corpo(contenuto, firmati)?)),
                        due: *quando,
                    }));
                }
                Effetto::Chiudi { chiave } => {
                    let key: String = chiave.into();
                    if self.in_programma(&key).await? {
                        batch.push(Operation::CompleteQueueItem { key });
                    }
                }
                Effetto::Abbandona { chiave, motivo } => {
                    let key: String = chiave.into();
                    if self.in_programma(&key).await? {
                        batch.push(Operation::FailQueueItem {
                            key,
                            error: motivo.clone(),
                        });
                    }
                }
                Effetto::Registra { eventi, mittente } => registra(&mut batch, eventi, mittente),
            }
        }
        match fine {
            Some(Fine::Fatto(key)) => batch.push(Operation::CompleteQueueItem { key: key.clone() }),
            Some(Fine::Abbandonato(key, error)) => batch.push(Operation::FailQueueItem {
                key: key.clone(),
                error: error.clone(),
            }),
            None => &mut batch,
        };
        let nuovo = match self.store.commit(batch).await {
            Ok(receipt) => !receipt.replayed,
            Err(e) => {
                let e = Errore::from(e);
                return match presunte.iter().find_map(|a| rifiuto(&e, a)) {
                    Some(stato) => Ok(Applicato::Rifiutato(stato)),
                    None => Err(Errore::Contesto {
                        cosa: "commit",
                        fonte: Box::new(e),
                    }),
                };
            }
        };
        if nuovo {
            let eventi: Vec<_> = piano.eventi().cloned().collect();
            self.registro.annuncia(&eventi);
            self.contatori.consegnati(piano.consegne);
            for _ in 0..piano.chiusi_remoti {
                self.contatori.chiuso_remoto();
            }
        }
        if piano.accoda_lavoro() {
            self.lavoro.notify_one();
        }
        Ok(Applicato::Fatto(nuovo))
    }

    /// Whether `mailbox` exists and is enabled.
    async fn attiva(&self, mailbox: &Address) -> Result<bool> {
        Ok(matches!(self.store.mailbox(mailbox).await?, Some(m) if m.enabled))
    }

    /// Whether the queue item `key` exists and is still scheduled.
    async fn in_programma(&self, key: &str) -> Result<bool> {
        Ok(matches!(
            self.store.queue_item(key).await?,
            Some(item) if item.status == QueueStatus::Scheduled
        ))
    }
}

/// The bytes `c` names.
fn corpo(c: &Contenuto, firmati: &[Arc<[u8]>]) -> Result<Arc<[u8]>> {
    match c {
        Contenuto::Dati(bytes) => Ok(bytes.clone()),
        Contenuto::Firmato(i) => firmati
            .get(*i)
            .cloned()
            .ok_or_else(|| Errore::Regola(format!("signed message {i} of {}", firmati.len()))),
    }
}

/// The state of `mailbox` when the writer refused a delivery to it (unknown, disabled,
/// full); `None` for any other error.
fn rifiuto(e: &Errore, mailbox: &Address) -> Option<StatoCasella> {
    let mailbox = mailbox.as_str();
    match e.store()? {
        StoreError::UnknownMailbox(a) if *a == mailbox => Some(StatoCasella::Sconosciuta),
        StoreError::MailboxDisabled(a) if *a == mailbox => Some(StatoCasella::Disabilitata),
        StoreError::MailboxFull { address, .. } if *address == mailbox => Some(StatoCasella::Piena),
        _ => None,
    }
}
