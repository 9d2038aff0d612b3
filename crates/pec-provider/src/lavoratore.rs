//! The worker: runs every queue item when it comes due (PEC-SPEC §2.3 delivery point, the
//! relay, the 12 h / 24 h checks). Items are typed (`pec_core::lavoro::Lavoro`); each kind is
//! one point's step. A step commits its outcome together with the item's completion; an
//! error is recorded on the item, which is tried again with backoff.

use crate::clock::Clock;
use crate::consegna::PuntoConsegna;
use crate::errore::Errore;
use crate::inoltro::Inoltro;
use crate::scadenze::Scadenze;
use pec_core::lavoro::{Compito, Lavoro};
use pec_store::{backoff, Batch, Operation, QueueItem, SqliteStore, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument as _;

/// How long a claimed item stays ours; after that a crashed worker's item is claimed again.
const LEASE: Duration = Duration::from_secs(60);
/// Steps under way at once.
const BATCH: usize = 64;
/// Poll interval when nothing wakes the worker (retries coming due).
const IDLE: Duration = Duration::from_secs(1);
/// Attempts before an item is given up (a step that keeps failing for a bug of ours).
const MAX_ATTEMPTS: u32 = 20;

/// The queue worker.
pub struct Lavoratore {
    store: SqliteStore,
    clock: Arc<Clock>,
    lavoro: Arc<Notify>,
    consegna: Arc<PuntoConsegna>,
    inoltro: Arc<Inoltro>,
    scadenze: Arc<Scadenze>,
}

impl Lavoratore {
    pub(crate) fn new(
        p: &crate::comune::Parti,
        consegna: Arc<PuntoConsegna>,
        inoltro: Arc<Inoltro>,
        scadenze: Arc<Scadenze>,
    ) -> Self {
        Self {
            store: p.store.clone(),
            clock: p.clock.clone(),
            lavoro: p.lavoro.clone(),
            consegna,
            inoltro,
            scadenze,
        }
    }

    /// Runs until `shutdown` turns true, then lets the steps under way finish.
    ///
    /// Up to [`BATCH`] steps run at once; a slot that frees up is refilled by the next claim
    /// at once, so one slow step (a large envelope to sign) never holds up the others.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(BATCH));
        let mut steps = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while steps.try_join_next().is_some() {}
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 {
                match self.store.claim_due(self.clock.now(), free, LEASE).await {
                    Ok(items) => {
                        claimed = items.len();
                        for item in items {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                break;
                            };
                            let w = self.clone();
                            steps.spawn(async move {
                                let _permit = permit;
                                w.step(item).await
                            });
                        }
                    }
                    Err(e) => tracing::error!("queue: {e}"),
                }
            }
            if claimed == 0 || claimed == free {
                tokio::select! {
                    _ = self.lavoro.notified() => {}
                    _ = tokio::time::sleep(IDLE) => {}
                    Some(_) = steps.join_next(), if !steps.is_empty() => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        while steps.join_next().await.is_some() {}
    }

    /// One queue item, in a span naming it and its PEC msgid; errors are recorded on the
    /// item and retried with backoff.
    async fn step(&self, item: QueueItem) {
        let corpo = self.corpo(&item).await;
        let lavoro = match &corpo {
            Ok(c) => Lavoro::leggi(&item.kind, &item.payload, c.as_deref()).map_err(Errore::from),
            Err(e) => Err(Errore::Regola(format!("{e:#}"))),
        };
        let msgid = match &lavoro {
            Ok(l) => l.compito.identificativo(),
            Err(_) => "",
        };
        let span = tracing::info_span!(
            "lavoro",
            tipo = %item.kind,
            %msgid,
            attempt = item.attempts
        );
        self.passo(&item, lavoro).instrument(span).await
    }

    /// The bytes `item` carries when they are stored apart by hash (items queued before
    /// that carry them in the payload: `None`).
    async fn corpo(&self, item: &QueueItem) -> Result<Option<Vec<u8>>, Errore> {
        let Some(r) = &item.body else {
            return Ok(None);
        };
        match self.store.body(r).await? {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(Errore::Regola(format!("queue body {} missing", r.hex()))),
        }
    }

    async fn passo(&self, item: &QueueItem, lavoro: Result<Lavoro<'_>, Errore>) {
        let key = item.key.as_str();
        let outcome = match lavoro {
            Ok(Lavoro { compito, corpo }) => match compito {
                Compito::Consegna(recapito) => self.consegna.esegui(key, &recapito, corpo).await,
                Compito::Inoltro(spedizione) => self.inoltro.esegui(key, &spedizione, corpo).await,
                Compito::Controllo(controllo) => self.scadenze.esegui(key, &controllo, corpo).await,
            },
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            let error = format!("{e:#}");
            tracing::warn!("{key}: attempt {} failed: {error}", item.attempts);
            let op = if item.attempts >= MAX_ATTEMPTS {
                Operation::FailQueueItem {
                    key: key.to_string(),
                    error,
                }
            } else {
                Operation::RetryQueueItem {
                    key: key.to_string(),
                    due: self.clock.now() + backoff(item.attempts),
                    error,
                }
            };
            if let Err(e) = self.store.commit(Batch::new().with(op)).await {
                tracing::warn!("{key}: cannot reschedule: {e}");
            }
        }
    }
}
