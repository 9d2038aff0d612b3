//! The delivery point (PEC-SPEC §2.3 delivery point, §4.7, §4.8): puts one envelope into each
//! local recipient's box and answers the sender with the delivery receipt, or the
//! non-delivery notice.
//!
//! A step is one store transaction: the envelope into the recipient's INBOX, the receipt into
//! the sender's INBOX (or on its way back to the sender's provider), the log events, and the
//! caller's own operations (the acceptance, the presa in carico, the completed queue item),
//! together. Keys make a replay after a crash store nothing twice.
//!
//! Optimistic: boxes are presumed active and the writer checks each as it stores the envelope
//! (`Admission::Enforce`); only when it refuses (unknown, disabled, full) is the step built
//! again with the box's real state. The common case costs no read.

use crate::clock::Clock;
use crate::comune::{deposita, indirizzo, registra, Contatori, Firmatario, Parti, Registro};
use crate::domini::Domini;
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::ids::Ids;
use crate::indice::Directory;
use crate::inoltro;
use chrono::{DateTime, Utc};
use pec_core::chiave::{Chiave, Cosa};
use pec_core::consegna::{self, BustaRicevuta, EsitoConsegna, Recapito, StatoCasella};
use pec_core::lavoro::{self, Lavoro, Spedizione};
use pec_core::registro::Evento;
use pec_core::{Emissione, Provider, RiferimentoTemporale};
use pec_store::{Admission, Batch, Body, NewMessage, Operation, SqliteStore, Store, StoreError};
use std::sync::Arc;

/// The delivery point.
pub struct PuntoConsegna {
    store: SqliteStore,
    registro: Registro,
    firma: Firmatario,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
    contatori: Arc<Contatori>,
}

/// One signed envelope, as the delivery point needs it.
#[derive(Clone, Copy)]
pub(crate) struct Envelope<'a> {
    /// The envelope as read (daticert, original, receipt type).
    pub letta: &'a BustaRicevuta,
    /// Its bytes, stored as they are in each recipient's box (one allocation for all).
    pub bytes: &'a Arc<[u8]>,
    /// Where receipts go.
    pub sender: &'a str,
    /// Its PEC msgid.
    pub id: &'a str,
}

impl PuntoConsegna {
    /// Takes what it uses from the shared parts.
    pub(crate) fn new(p: &Parti) -> Self {
        Self {
            store: p.store.clone(),
            registro: p.registro.clone(),
            firma: p.firma.clone(),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
            contatori: p.contatori.clone(),
        }
    }

    /// The queue item that delivers `busta` to `recapito` later (the worker's
    /// [`PuntoConsegna::esegui`]).
    pub(crate) fn accoda(
        recapito: &lavoro::Recapito,
        busta: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Operation> {
        let l = Lavoro::Consegna {
            recapito: recapito.clone(),
            busta,
        };
        crate::comune::accoda(recapito.chiave(), &l, now)
    }

    /// Delivers one queued envelope to one local recipient: the worker's step.
    pub(crate) async fn esegui(
        &self,
        chiave: &str,
        recapito: &lavoro::Recapito,
        busta: &[u8],
    ) -> Result<()> {
        // One copy out of the queue payload, shared by the check and the delivery.
        let busta: Arc<[u8]> = busta.into();
        let letta = self.busta_firmata(&busta).await.ctx("the envelope")?;
        let env = Envelope {
            letta: &letta,
            bytes: &busta,
            sender: &recapito.mittente,
            id: &recapito.identificativo,
        };
        let dest = &recapito.destinatario;
        let refused = match self
            .tentativo(chiave, &env, dest, StatoCasella::Attiva)
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) => match refusal(&e, dest) {
                Some(stato) => stato,
                None => return Err(e),
            },
        };
        self.tentativo(chiave, &env, dest, refused).await
    }

    /// Builds, signs and commits the outcome of one delivery for a given box state.
    async fn tentativo(
        &self,
        chiave: &str,
        env: &Envelope<'_>,
        destinatario: &str,
        stato: StatoCasella,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut batch = Batch::new();
        let recapiti = [(destinatario.to_string(), stato)];
        let eventi = self.consegna(&mut batch, env, &recapiti, now).await?;
        batch.push(Operation::CompleteQueueItem {
            key: chiave.to_string(),
        });
        self.registro.commit(batch, &[&eventi]).await?;
        self.contatori.consegnati(1);
        Ok(())
    }

    /// The delivery point for local recipients of one envelope, each in the state its box is
    /// presumed to be in: decides (pec-core), signs every receipt or notice in one blocking
    /// task, and adds to `batch` the envelope for each recipient (`Admission::Enforce`: the
    /// writer refuses it if the presumption was wrong), the receipts and notices for the
    /// sender and the log events, which it returns.
    ///
    /// Shared by the worker and by the access and receiving points, which deliver to our own
    /// boxes in the same transaction as the acceptance or the presa in carico.
    pub(crate) async fn consegna(
        &self,
        batch: &mut Batch,
        env: &Envelope<'_>,
        recapiti: &[(String, StatoCasella)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Evento>> {
        let Envelope {
            letta: busta,
            bytes: busta_bytes,
            sender,
            id,
        } = *env;
        let sender_box = indirizzo(sender)?;
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
            let esito = consegna::punto_consegna(busta, &recapito, &e).ctx("delivery point")?;
            eventi.extend_from_slice(esito.eventi());
            let recipient = indirizzo(recipient)?;
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
        let signed = self.firma.tutti(unsigned).await?;
        let sender_local = self.domini.locale(sender);
        for ((recipient, consegnata), bytes) in outcomes.into_iter().zip(signed) {
            let r = recipient.to_string();
            let cosa = if consegnata {
                Cosa::Consegna(r)
            } else {
                Cosa::MancataConsegna(r)
            };
            if consegnata {
                batch.push(Operation::PutMessage(NewMessage {
                    key: Chiave::Casella {
                        casella: recipient.to_string(),
                        identificativo: id.to_string(),
                        cosa: Cosa::Busta,
                    }
                    .into(),
                    mailbox: recipient.clone(),
                    folder: "INBOX".into(),
                    body: Body::Bytes(busta_bytes.clone()),
                    internal_date: now,
                    flags: Vec::new(),
                    admission: Admission::Enforce,
                }));
            }
            if sender_local {
                let chiave = Chiave::Casella {
                    casella: sender_box.to_string(),
                    identificativo: id.to_string(),
                    cosa,
                };
                batch.push(deposita(&sender_box, "INBOX", chiave, bytes, now));
            } else {
                // Another provider's user: the receipt goes back over SMTP (PEC-SPEC §4.7).
                let spedizione = Spedizione {
                    destinatario: sender_box.to_string(),
                    mail_from: self.domini.servizio().to_string(),
                    identificativo: id.to_string(),
                    busta: false,
                    accepted_ms: now.timestamp_millis(),
                    modello: None,
                };
                batch.push(inoltro::accoda(&spedizione, &bytes, now, Some(cosa))?);
            }
        }
        registra(batch, &eventi, sender);
        Ok(eventi)
    }

    /// A queued envelope read again from what its signature covers, as the receiving point
    /// read it (issue 12): never from a second MIME parse of the whole message. The
    /// signature was judged when the envelope arrived; here it only has to match.
    async fn busta_firmata(&self, raw: &Arc<[u8]>) -> Result<BustaRicevuta> {
        let verifier = self.indice.verifier();
        let (raw, now) = (raw.clone(), self.clock.now());
        tokio::task::spawn_blocking(move || {
            let v = verifier.verify(&raw, now)?;
            if !v.intact {
                return Err(Errore::Firma(
                    "the envelope's signature no longer matches it".into(),
                ));
            }
            let ins = pec_core::inspect::inspect_firmato(&raw, &v.content)?;
            Ok(BustaRicevuta::da_ispezione(ins)?)
        })
        .await
        .ctx("envelope check")?
    }

    /// Commits a batch that stores an envelope into each of `locals`, presumed active:
    /// `Some(fresh)` when committed (`fresh` false for a replay, committed before), `None`
    /// when one of those boxes refused it (unknown, disabled, full): the caller then commits
    /// again with the deliveries queued, so the worker answers each recipient.
    pub(crate) async fn commit_presunto(
        &self,
        batch: Batch,
        locals: &[(String, StatoCasella)],
    ) -> Result<Option<bool>> {
        match self.store.commit(batch).await {
            Ok(receipt) => Ok(Some(!receipt.replayed)),
            Err(e) => {
                let e = Errore::from(e);
                if locals.iter().any(|(r, _)| refusal(&e, r).is_some()) {
                    Ok(None)
                } else {
                    Err(Errore::Contesto {
                        cosa: "commit",
                        fonte: Box::new(e),
                    })
                }
            }
        }
    }
}

/// The state of `recipient`'s box when the writer refused its envelope for it (unknown,
/// disabled, full); `None` for any other error.
fn refusal(e: &Errore, recipient: &str) -> Option<StatoCasella> {
    let recipient = indirizzo(recipient).ok()?;
    let recipient = recipient.as_str();
    match e.store()? {
        StoreError::UnknownMailbox(a) if *a == recipient => Some(StatoCasella::Sconosciuta),
        StoreError::MailboxDisabled(a) if *a == recipient => Some(StatoCasella::Disabilitata),
        StoreError::MailboxFull { address, .. } if *address == recipient => {
            Some(StatoCasella::Piena)
        }
        _ => None,
    }
}
