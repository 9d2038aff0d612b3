//! The delivery point as a queue worker: each `deliver` item puts one envelope into one local
//! box and answers the sender with the delivery receipt, or the non-delivery notice
//! (PEC-SPEC §2.3 delivery point, §4.7, §4.8).
//!
//! A step is one store transaction: the envelope into the recipient's INBOX, the receipt into
//! the sender's INBOX, the queue item completed and the log events, together. Keys make a
//! replay after a crash store nothing twice.

use super::relay::Inoltro;
use super::submit::{log_all, put, tracing_line, Delivery, DELIVER};
use super::{address, Gestore};
use anyhow::{Context, Result};
use pec_core::consegna::{self, BustaRicevuta, EsitoConsegna, Recapito, StatoCasella};
use pec_core::registro::Evento;
use pec_core::{Emissione, RiferimentoTemporale};
use pec_store::{
    backoff, Admission, Batch, Body, NewMessage, Operation, QueueItem, Store, StoreError,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How long a claimed item stays ours; after that a crashed worker's item is claimed again.
const LEASE: Duration = Duration::from_secs(60);
/// Delivery steps under way at once.
const BATCH: usize = 64;
/// Poll interval when nothing wakes the worker (retries coming due).
const IDLE: Duration = Duration::from_secs(1);
/// Attempts before an item is given up (a delivery that keeps failing for a bug of ours).
const MAX_ATTEMPTS: u32 = 20;

/// Runs the delivery worker until `shutdown` turns true, then lets the steps under way finish.
///
/// Up to [`BATCH`] steps run at once; a slot that frees up is refilled by the next claim at
/// once, so one slow step (a large envelope to sign) never holds up the others.
pub async fn run(g: Arc<Gestore>, mut shutdown: watch::Receiver<bool>) {
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
            match g.store.claim_due(g.clock.now(), free, LEASE).await {
                Ok(items) => {
                    claimed = items.len();
                    for item in items {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let g = g.clone();
                        steps.spawn(async move {
                            let _permit = permit;
                            g.step(item).await
                        });
                    }
                }
                Err(e) => tracing_line(&format!("queue: {e}")),
            }
        }
        if claimed == 0 || claimed == free {
            tokio::select! {
                _ = g.work.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
                Some(_) = steps.join_next(), if !steps.is_empty() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    while steps.join_next().await.is_some() {}
}

impl Gestore {
    /// One queue item; errors are recorded on the item and retried with backoff.
    async fn step(&self, item: QueueItem) {
        let outcome = match item.kind.as_str() {
            DELIVER => self.deliver(&item).await,
            super::relay::RELAY => self.inoltra(&item).await,
            super::relay::SCADENZA => self.controlla(&item).await,
            other => Err(anyhow::anyhow!("unknown queue item kind {other:?}")),
        };
        if let Err(e) = outcome {
            let error = format!("{e:#}");
            tracing_line(&format!(
                "{}: attempt {} failed: {error}",
                item.key, item.attempts
            ));
            let op = if item.attempts >= MAX_ATTEMPTS {
                Operation::FailQueueItem {
                    key: item.key.clone(),
                    error,
                }
            } else {
                Operation::RetryQueueItem {
                    key: item.key.clone(),
                    due: self.clock.now() + backoff(item.attempts),
                    error,
                }
            };
            if let Err(e) = self.store.commit(Batch::new().with(op)).await {
                tracing_line(&format!("{}: cannot reschedule: {e}", item.key));
            }
        }
    }

    /// Delivers one envelope to one local recipient.
    ///
    /// Optimistic: the box is presumed active and the writer checks it as it stores the
    /// envelope (`Admission::Enforce`); only when it refuses (unknown, disabled, full) is the
    /// step built again as a non-delivery notice. The common case costs no read.
    async fn deliver(&self, item: &QueueItem) -> Result<()> {
        let d = Delivery::from_payload(&item.payload).context("queue payload")?;
        let busta = self.busta_firmata(&d.busta).await.context("the envelope")?;
        let refused = match self.attempt(item, &d, &busta, StatoCasella::Attiva).await {
            Ok(()) => return Ok(()),
            Err(e) => match refusal(&e, &d.recipient) {
                Some(stato) => stato,
                None => return Err(e),
            },
        };
        self.attempt(item, &d, &busta, refused).await
    }

    /// Builds, signs and commits the outcome of one delivery for a given box state.
    async fn attempt(
        &self,
        item: &QueueItem,
        d: &Delivery,
        busta: &BustaRicevuta,
        stato: StatoCasella,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut batch = Batch::new();
        let recapiti = [(d.recipient.clone(), stato)];
        let env = Envelope {
            letta: busta,
            bytes: &d.busta,
            sender: &d.sender,
            id: &d.identificativo,
        };
        let eventi = self.consegna(&mut batch, &env, &recapiti, now).await?;
        batch.push(Operation::CompleteQueueItem {
            key: item.key.clone(),
        });
        self.commit_announcing(batch, &[&eventi]).await?;
        self.delivered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The delivery point for local recipients of one envelope, each in the state its box is
    /// presumed to be in: decides (pec-core), signs every receipt or notice in one blocking
    /// task, and adds to `batch` the envelope for each recipient (`Admission::Enforce`: the
    /// writer refuses it if the presumption was wrong), the receipts and notices for the
    /// sender and the log events, which it returns.
    ///
    /// Shared by the worker and by the access point, which delivers to its own boxes in the
    /// same transaction as the acceptance.
    pub(super) async fn consegna(
        &self,
        batch: &mut Batch,
        env: &Envelope<'_>,
        recapiti: &[(String, StatoCasella)],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Evento>> {
        let Envelope {
            letta: busta,
            bytes: busta_bytes,
            sender,
            id,
        } = *env;
        let sender_box = address(sender)?;
        let data = RiferimentoTemporale::from_utc(now);
        let mut eventi = Vec::new();
        let mut outcomes = Vec::with_capacity(recapiti.len());
        let mut unsigned = Vec::with_capacity(recapiti.len());
        for (recipient, stato) in recapiti {
            let message_id = self.ids.next(now);
            let e = Emissione {
                provider: &self.provider,
                data,
                message_id: &message_id,
            };
            let recapito = Recapito {
                destinatario: recipient,
                stato: *stato,
            };
            let esito = consegna::punto_consegna(busta, &recapito, &e).context("delivery point")?;
            eventi.extend_from_slice(esito.eventi());
            let recipient = address(recipient)?;
            match esito {
                EsitoConsegna::Consegnata { ricevuta, .. } => {
                    outcomes.push((recipient, true));
                    unsigned.push(ricevuta);
                }
                EsitoConsegna::NonConsegnata { avviso, .. } => {
                    outcomes.push((recipient, false));
                    unsigned.push(avviso);
                }
            }
        }
        let signed = self.sign_all(unsigned).await?;
        if signed.len() != outcomes.len() {
            anyhow::bail!(
                "signing returned {} of {} messages",
                signed.len(),
                outcomes.len()
            );
        }
        let sender_local = self.config.is_local(sender);
        for ((recipient, consegnata), bytes) in outcomes.into_iter().zip(signed) {
            let what = if consegnata {
                "consegna"
            } else {
                "mancata-consegna"
            };
            if consegnata {
                batch.push(Operation::PutMessage(NewMessage {
                    key: format!("box:{recipient}:{id}:busta"),
                    mailbox: recipient.clone(),
                    folder: "INBOX".into(),
                    body: Body::Bytes(busta_bytes.to_vec()),
                    internal_date: now,
                    flags: Vec::new(),
                    admission: Admission::Enforce,
                }));
            }
            if sender_local {
                batch.push(put(
                    &sender_box,
                    "INBOX",
                    format!("box:{sender_box}:{id}:{what}:{recipient}"),
                    bytes,
                    now,
                ));
            } else {
                // Another provider's user: the receipt goes back over SMTP (PEC-SPEC §4.7).
                let inoltro = Inoltro {
                    recipient: sender_box.to_string(),
                    mail_from: self.config.service_address.clone(),
                    identificativo: id.to_string(),
                    busta: false,
                    accepted_ms: now.timestamp_millis(),
                    modello: None,
                };
                batch.push(inoltro.item(&bytes, now, Some(&format!("{what}:{recipient}")))?);
            }
        }
        log_all(batch, &eventi, sender);
        Ok(eventi)
    }
}

impl Gestore {
    /// A queued envelope read again from what its signature covers, as the receiving point
    /// read it (issue 12): never from a second MIME parse of the whole message. The
    /// signature was judged when the envelope arrived; here it only has to match.
    async fn busta_firmata(&self, raw: &[u8]) -> Result<BustaRicevuta> {
        let verifier = self.directory.verifier();
        let (raw, now) = (raw.to_vec(), self.clock.now());
        tokio::task::spawn_blocking(move || {
            let v = verifier.verify(&raw, now)?;
            anyhow::ensure!(v.intact, "the envelope's signature no longer matches it");
            let ins = pec_core::inspect::inspect_firmato(&raw, &v.content)?;
            Ok(BustaRicevuta::da_ispezione(ins)?)
        })
        .await
        .context("envelope check")?
    }

    /// Commits a batch that stores an envelope into each of `locals`, presumed active:
    /// `Some(fresh)` when committed (`fresh` false for a replay, committed before), `None`
    /// when one of those boxes refused it (unknown, disabled, full): the caller then commits
    /// again with the deliveries queued, so the worker answers each recipient.
    pub(super) async fn commit_presumed(
        &self,
        batch: Batch,
        locals: &[(String, StatoCasella)],
    ) -> Result<Option<bool>> {
        match self.store.commit(batch).await {
            Ok(receipt) => Ok(Some(!receipt.replayed)),
            Err(e) => {
                let e = anyhow::Error::from(e);
                if locals.iter().any(|(r, _)| refusal(&e, r).is_some()) {
                    Ok(None)
                } else {
                    Err(e.context("commit"))
                }
            }
        }
    }
}

/// One signed envelope, as the delivery point needs it.
#[derive(Clone, Copy)]
pub(super) struct Envelope<'a> {
    /// The envelope as read (daticert, original, receipt type).
    pub letta: &'a BustaRicevuta,
    /// Its bytes, stored as they are in each recipient's box.
    pub bytes: &'a [u8],
    /// Where receipts go.
    pub sender: &'a str,
    /// Its PEC msgid.
    pub id: &'a str,
}

/// The state of `recipient`'s box when the writer refused its envelope for it (unknown,
/// disabled, full); `None` for any other error.
pub(super) fn refusal(e: &anyhow::Error, recipient: &str) -> Option<StatoCasella> {
    let recipient = address(recipient).ok()?;
    let recipient = recipient.as_str();
    match e.downcast_ref::<StoreError>()? {
        StoreError::UnknownMailbox(a) if *a == recipient => Some(StatoCasella::Sconosciuta),
        StoreError::MailboxDisabled(a) if *a == recipient => Some(StatoCasella::Disabilitata),
        StoreError::MailboxFull { address, .. } if *address == recipient => {
            Some(StatoCasella::Piena)
        }
        _ => None,
    }
}
