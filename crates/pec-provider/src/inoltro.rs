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
use crate::comune::Parti;
use crate::domini::Domini;
use crate::errore::{Errore, Risultato as Result};
use crate::esecutore::{Esecutore, Fine};
use crate::ids::Ids;
use crate::indice::Directory;
use chrono::DateTime;
use pec_core::daticert::TipoDestinatario;
use pec_core::effetti::{self, EsitoInoltro};
use pec_core::inoltro::{self, DominioIrraggiungibile, DopoErrore, RifiutoRemoto};
use pec_core::lavoro::Spedizione;
use pec_core::Provider;
use pec_smtp::relay::{Relay, Sent, Unreachable};
use std::sync::Arc;

/// The relay: what a queued send became.
pub struct Inoltro {
    relay: Relay,
    esecutore: Esecutore,
    ids: Arc<Ids>,
    provider: Provider,
    domini: Domini,
    indice: Arc<Directory>,
    clock: Arc<Clock>,
}

impl Inoltro {
    /// Takes what it uses from the shared parts.
    pub(crate) fn new(p: &Parti, relay: Relay) -> Self {
        Self {
            relay,
            esecutore: Esecutore::new(p),
            ids: p.ids.clone(),
            provider: p.provider.clone(),
            domini: p.domini.clone(),
            indice: p.indice.clone(),
            clock: p.clock.clone(),
        }
    }

    /// One relay item: send, then commit what the outcome means (pec-core's
    /// `effetti::inoltro`) with the item's end. `Err` retries with backoff.
    pub(crate) async fn esegui(&self, chiave: &str, head: &Spedizione, bytes: &[u8]) -> Result<()> {
        let certified = self.indice.classifica(&self.domini, &head.destinatario)
            == TipoDestinatario::Certificato;
        let sent = self
            .relay
            .send(certified, &head.mail_from, &head.destinatario, bytes)
            .await;
        let now = self.clock.now();
        let mut fine = Fine::Fatto(chiave.to_string());
        let esito = match sent {
            Sent::Accepted => EsitoInoltro::Accettato {
                gestore: self
                    .indice
                    .indice()
                    .per_indirizzo(&head.destinatario)
                    .map(|g| g.nome().to_string()),
            },
            Sent::Unreachable { domain, why } => EsitoInoltro::Rifiutato(RifiutoRemoto::Dominio {
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
            } => EsitoInoltro::Rifiutato(RifiutoRemoto::Risposta {
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
                fine = Fine::Abbandonato(chiave.to_string(), reason.clone());
                EsitoInoltro::Abbandonato(reason)
            }
        };
        if let EsitoInoltro::Rifiutato(rifiuto) = &esito {
            tracing::warn!("{chiave}: refused for good: {rifiuto:?}");
        }
        let mut nuovo_id = || self.ids.next(now);
        let d = self.domini.instrada(now, |r| {
            effetti::inoltro(head, esito, bytes, &self.provider, &mut nuovo_id, r)
        })?;
        self.esecutore.esegui_tutto(d, now, Some(&fine)).await?;
        Ok(())
    }
}
