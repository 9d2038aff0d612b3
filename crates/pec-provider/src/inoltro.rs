//! Sending to other providers (PEC-SPEC §2.2, §9.2): our envelopes to their receiving points,
//! and the receipts we owe them (presa in carico, consegna) to their users and service boxes.
//!
//! One `relay` queue item per message and recipient; the SMTP client, the routes and the open
//! connections are `pec_smtp::relay::Relay`. After a send, in one transaction:
//! * accepted: the item is done (log `busta-inoltrata`);
//! * refused for good (5xx, unknown domain): for an envelope, pec-core's avviso di mancata
//!   consegna to the sender and the recipient's 12 h / 24 h checks cancelled
//!   (`pec_core::inoltro::rifiutata`);
//! * anything else (4xx, peer down, timeout, dropped connection): retried with backoff until
//!   pec-core says to give up, 24 h after acceptance (`pec_core::inoltro::dopo_errore_temporaneo`);
//!   the 24 h notice tells the sender.
//!
//! Sends are not grouped: one SMTP transaction per recipient, so each gets its own outcome
//! (and its own presa in carico from the peer, which the rules allow: "one or more").

use crate::clock::Clock;
use crate::comune::{deposita, indirizzo, registra, Firmatario, Parti, Registro};
use crate::domini::Domini;
use crate::errore::{Contesto as _, Errore, Risultato as Result};
use crate::ids::Ids;
use crate::indice::Directory;
use crate::scadenze::Scadenze;
use chrono::{DateTime, Utc};
use pec_core::builder::DatiMessaggio;
use pec_core::chiave::{Chiave, Cosa};
use pec_core::consegna::BustaRicevuta;
use pec_core::daticert::TipoDestinatario;
use pec_core::inoltro::{self, DominioIrraggiungibile, DopoErrore, RifiutoRemoto};
use pec_core::lavoro::{Lavoro, Spedizione};
use pec_core::registro::{Evento, TipoEvento};
use pec_core::{Emissione, Provider, RiferimentoTemporale};
use pec_smtp::relay::{Relay, Sent, Unreachable};
use pec_store::{Batch, Operation, SqliteStore, Store};
use std::sync::Arc;

/// The queue item sending `bytes`. `cosa` tells receipts about the same message apart
/// (consegna of a recipient, presa of a set); envelopes pass `None`. Keys do not depend on
/// the bytes, so a replayed envelope, whose receipts are built anew, queues nothing twice.
pub(crate) fn accoda(
    spedizione: &Spedizione,
    bytes: &[u8],
    due: DateTime<Utc>,
    cosa: Option<Cosa>,
) -> Result<Operation> {
    let chiave = Chiave::Inoltro {
        identificativo: spedizione.identificativo.clone(),
        destinatario: spedizione.destinatario.clone(),
        cosa,
    };
    let l = Lavoro::Inoltro {
        spedizione: spedizione.clone(),
        messaggio: bytes,
    };
    crate::comune::accoda(chiave, &l, due)
}

/// The relay: what a queued send became.
pub struct Inoltro {
    relay: Relay,
    store: SqliteStore,
    registro: Registro,
    firma: Firmatario,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
    scadenze: Arc<Scadenze>,
}

impl Inoltro {
    /// Takes what it uses from the shared parts.
    pub(crate) fn new(p: &Parti, relay: Relay, scadenze: Arc<Scadenze>) -> Self {
        Self {
            relay,
            store: p.store.clone(),
            registro: p.registro.clone(),
            firma: p.firma.clone(),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
            scadenze,
        }
    }

    /// One relay item: send, then commit what the outcome means. `Err` retries with backoff.
    pub(crate) async fn esegui(&self, chiave: &str, head: &Spedizione, bytes: &[u8]) -> Result<()> {
        let certified = self.indice.classifica(&self.domini, &head.destinatario)
            == TipoDestinatario::Certificato;
        let sent = self
            .relay
            .send(certified, &head.mail_from, &head.destinatario, bytes)
            .await;
        let now = self.clock.now();
        let mut batch = Batch::new();
        let rifiuto = match sent {
            Sent::Accepted => None,
            Sent::Unreachable { domain, why } => Some(RifiutoRemoto::Dominio {
                dominio: domain,
                perche: match why {
                    Unreachable::NoSuchDomain => DominioIrraggiungibile::Inesistente,
                    Unreachable::NullMx => DominioIrraggiungibile::NessunaPosta,
                    Unreachable::NoRoute => DominioIrraggiungibile::NessunPercorso,
                },
            }),
            Sent::Refused {
                code,
                enhanced,
                text,
            } => Some(RifiutoRemoto::Risposta {
                codice: code,
                enhanced,
                testo: text,
            }),
            Sent::Temporary(reason) => {
                let accepted = DateTime::from_timestamp_millis(head.accepted_ms).unwrap_or(now);
                if inoltro::dopo_errore_temporaneo(accepted, now) == DopoErrore::Riprova {
                    return Err(Errore::Sistema(reason));
                }
                tracing::warn!("{chiave}: given up after 24 h: {reason}");
                if head.busta {
                    let evento = TipoEvento::InoltroFallito {
                        destinatario: head.destinatario.clone(),
                        errore: reason.clone(),
                    };
                    self.log_busta(&mut batch, head, bytes, evento, now)?;
                }
                batch.push(Operation::FailQueueItem {
                    key: chiave.to_string(),
                    error: reason,
                });
                self.store.commit(batch).await?;
                return Ok(());
            }
        };
        match rifiuto {
            None if head.busta => {
                let gestore = self
                    .indice
                    .indice()
                    .per_indirizzo(&head.destinatario)
                    .map(|g| g.nome().to_string());
                let evento = TipoEvento::BustaInoltrata {
                    destinatario: head.destinatario.clone(),
                    gestore,
                };
                self.log_busta(&mut batch, head, bytes, evento, now)?;
            }
            None => {}
            Some(rifiuto) => {
                tracing::warn!("{chiave}: refused for good: {rifiuto:?}");
                if head.busta {
                    self.rifiutata(&mut batch, head, bytes, &rifiuto, now)
                        .await?;
                }
            }
        }
        batch.push(Operation::CompleteQueueItem {
            key: chiave.to_string(),
        });
        self.store.commit(batch).await?;
        Ok(())
    }

    /// Logs an event about our own envelope `bytes`: from the item's model event when it has
    /// one, else from the envelope read again.
    fn log_busta(
        &self,
        batch: &mut Batch,
        head: &Spedizione,
        bytes: &[u8],
        evento: TipoEvento,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let data = RiferimentoTemporale::from_utc(now);
        let e = match &head.modello {
            Some(m) => Evento {
                data,
                evento,
                generati: Vec::new(),
                ..(**m).clone()
            },
            None => {
                let letta = BustaRicevuta::leggi(bytes).ctx("our own envelope")?;
                let dati = DatiMessaggio::da_daticert(&letta.daticert);
                Evento::di(evento, data, &dati, &self.provider.nome, Vec::new())
            }
        };
        registra(batch, std::slice::from_ref(&e), &e.mittente);
        self.registro.annuncia(std::slice::from_ref(&e));
        Ok(())
    }

    /// An envelope the recipient's side refused for good: pec-core's answer (the avviso di
    /// mancata consegna to the sender, PEC-SPEC §4.8, and the checks it closes) into `batch`.
    async fn rifiutata(
        &self,
        batch: &mut Batch,
        head: &Spedizione,
        bytes: &[u8],
        rifiuto: &RifiutoRemoto,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let letta = BustaRicevuta::leggi(bytes).ctx("our own envelope")?;
        let dati = DatiMessaggio::da_daticert(&letta.daticert);
        let id = self.ids.next(now);
        let e = Emissione {
            provider: &self.provider,
            data: RiferimentoTemporale::from_utc(now),
            message_id: &id,
        };
        let r = inoltro::rifiutata(rifiuto, &e, &dati, &head.destinatario)
            .ctx("avviso di mancata consegna")?;
        let signed = self.firma.uno(r.avviso).await?;
        if self.domini.locale(&dati.mittente) {
            let sender = indirizzo(&dati.mittente)?;
            let chiave = Chiave::Casella {
                casella: sender.to_string(),
                identificativo: head.identificativo.clone(),
                cosa: Cosa::MancataConsegna(head.destinatario.clone()),
            };
            batch.push(deposita(&sender, "INBOX", chiave, signed, now));
        }
        self.scadenze
            .annulla(batch, &head.identificativo, &head.destinatario, r.annullate)
            .await?;
        registra(batch, std::slice::from_ref(&r.evento), &dati.mittente);
        self.registro.annuncia(std::slice::from_ref(&r.evento));
        Ok(())
    }
}
